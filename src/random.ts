/**
 * Seeded pseudo-random numbers shared by the sample generators and the detectors (neither may import
 * the other). mulberry32 is small, fast and gives the same sequence on every platform, so a seed
 * reproduces a sample day or a fitted model anywhere.
 */

/**
 * mulberry32 with uniform, integer and normal samplers. Samplers differ in how many 32-bit draws they
 * take, which is part of every seeded sequence: changing one changes golden samples and models.
 * The Isolation Forest's grower (detectors/isolation-forest/grow.wat) draws the same numbers written
 * out in WebAssembly: a change here must be made there too (its golden-forest test says so).
 *
 * @example
 * const random = new SeededRandom(42);
 * const minutes = random.uniform(15, 75); // the same value on every run and platform
 */
export class SeededRandom {
  /**
   * The generator's 32 bits, in a typed array: as a plain field, a value above 2^30 would be boxed
   * as a double, and every draw would convert it back (twice as slow).
   */
  private readonly state = new Int32Array(1);
  private spareNormal: number | undefined;

  constructor(seed: number) {
    this.state[0] = seed;
  }

  /** The next 32 random bits, as an integer in 0..2^32-1. */
  nextUint32(): number {
    // Only the low 32 bits matter, so the state may wrap as a signed integer.
    let t = (this.state[0] = (this.state[0] + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1), from one 32-bit draw. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [0, 1) with 53 random bits (two draws), as fine as a double allows. */
  next53(): number {
    return ((this.nextUint32() >>> 5) * 2 ** 26 + (this.nextUint32() >>> 6)) / 2 ** 53;
  }

  /** Uniform integer in 0..count-1, from {@link next53} so that large counts are not coarse. */
  below(count: number): number {
    return Math.floor(this.next53() * count);
  }

  /** Uniform in [low, high), from {@link next}. */
  uniform(low: number, high: number): number {
    return low + (high - low) * this.next();
  }

  /** Standard normal (Box-Muller on {@link next}, caching the second value). */
  normal(): number {
    if (this.spareNormal !== undefined) {
      const spare = this.spareNormal;
      this.spareNormal = undefined;
      return spare;
    }
    const radius = Math.sqrt(-2 * Math.log(1 - this.next()));
    const angle = 2 * Math.PI * this.next();
    this.spareNormal = radius * Math.sin(angle);
    return radius * Math.cos(angle);
  }
}
