/** `value` rounded to `digits` decimals, so that published numbers do not carry float noise. */
export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
