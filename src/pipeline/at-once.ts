/**
 * Calls `work` on each item in order, at most `width` at once. After a failure nothing more starts;
 * once the calls running have finished, the failure of the earliest item is thrown.
 */
export async function forEachAtOnce<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: { index: number; error: unknown }[] = [];
  const lane = async () => {
    while (next < items.length && failures.length === 0) {
      const index = next++;
      try {
        await work(items[index]);
      } catch (error) {
        failures.push({ index, error });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
  if (failures.length > 0) throw failures.sort((a, b) => a.index - b.index)[0].error;
}
