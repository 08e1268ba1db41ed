/** The linear-time sort that orders points by grid cell (clustering) and by Z-order code (nearest core). */

/** Widest radix digit when sorting records by cell (2048 buckets keep the scatter cache-friendly). */
const MAX_RADIX_DIGIT_BITS = 11;

/**
 * Stable LSD radix sort of records of `width` non-negative Int32 fields, each carrying
 * `payloadWidth` Float64 values along. `keys` are fields with their significant bits, least
 * significant first. Returns the sorted arrays (the inputs are reused as scratch).
 */
export function radixSortRecords(
  records: Int32Array,
  width: number,
  payload: Float64Array,
  payloadWidth: number,
  keys: readonly { field: number; bits: number }[],
): { records: Int32Array; payload: Float64Array } {
  const count = records.length / width;
  let spare: Int32Array = new Int32Array(records.length);
  let sparePayload: Float64Array = new Float64Array(payload.length);
  const starts = new Int32Array(1 << MAX_RADIX_DIGIT_BITS);
  for (const { field, bits } of keys) {
    const digitBits = Math.ceil(bits / Math.ceil(bits / MAX_RADIX_DIGIT_BITS));
    for (let shift = 0; shift < bits; shift += digitBits) {
      const mask = 2 ** Math.min(digitBits, bits - shift) - 1;
      starts.fill(0);
      for (let i = 0; i < count; i++) starts[(records[i * width + field] >>> shift) & mask]++;
      for (let digit = 0, start = 0; digit <= mask; digit++) {
        const size = starts[digit];
        starts[digit] = start;
        start += size;
      }
      for (let i = 0; i < count; i++) {
        const target = starts[(records[i * width + field] >>> shift) & mask]++;
        for (let j = 0; j < width; j++) spare[target * width + j] = records[i * width + j];
        for (let j = 0; j < payloadWidth; j++) sparePayload[target * payloadWidth + j] = payload[i * payloadWidth + j];
      }
      [records, spare] = [spare, records];
      [payload, sparePayload] = [sparePayload, payload];
    }
  }
  return { records, payload };
}
