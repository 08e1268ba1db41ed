import { TransientError } from '../../src/errors.js';
import type { Lake, LakeObject } from '../../src/lake/index.js';

/**
 * A real lake whose writes to matching keys fail a given number of times, as a flaky network or
 * an S3 throttling burst would, or stall for a while (a hung call).
 */
export class FlakyLake implements Lake {
  private failures: { pattern: RegExp; remaining: number }[] = [];
  private stalls: { pattern: RegExp; remaining: number; ms: number }[] = [];

  constructor(private readonly inner: Lake) {}

  get url(): string {
    return this.inner.url;
  }

  /** The next `times` writes of keys matching `pattern` throw a TransientError. */
  failWrites(pattern: RegExp, times: number): void {
    this.failures.push({ pattern, remaining: times });
  }

  /** The next `times` writes of keys matching `pattern` wait `ms` first. */
  stallWrites(pattern: RegExp, times: number, ms: number): void {
    this.stalls.push({ pattern, remaining: times, ms });
  }

  private async beforeWrite(key: string): Promise<void> {
    const stall = this.stalls.find((candidate) => candidate.remaining > 0 && candidate.pattern.test(key));
    if (stall) {
      stall.remaining--;
      await new Promise((resolve) => setTimeout(resolve, stall.ms));
    }
    const failure = this.failures.find((candidate) => candidate.remaining > 0 && candidate.pattern.test(key));
    if (failure) {
      failure.remaining--;
      throw new TransientError(`simulated outage writing ${key}`);
    }
  }

  list(prefix: string): Promise<LakeObject[]> {
    return this.inner.list(prefix);
  }
  get(key: string): Promise<Buffer> {
    return this.inner.get(key);
  }
  async put(key: string, body: Buffer | string): Promise<void> {
    await this.beforeWrite(key);
    return this.inner.put(key, body);
  }
  async putFile(localPath: string, key: string): Promise<void> {
    await this.beforeWrite(key);
    return this.inner.putFile(localPath, key);
  }
  getFile(key: string, localPath: string): Promise<void> {
    return this.inner.getFile(key, localPath);
  }
  exists(key: string): Promise<boolean> {
    return this.inner.exists(key);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  localPath(key: string): string | undefined {
    return this.inner.localPath(key);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
