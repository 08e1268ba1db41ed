import { readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Engine } from '../engine/index.js';
import { partitionPrefix, type Lake } from '../lake/index.js';

/**
 * The 3 million US domestic flights of January–June 2001 shipped by the npm package
 * `vega-datasets` (columns date, delay, distance, origin, destination).
 */
export function flightsParquetPath(): string {
  // The package exports only its JS entry; the data folder sits beside its build folder.
  const entry = createRequire(import.meta.url).resolve('vega-datasets');
  return path.join(path.dirname(entry), '..', 'data', 'flights-3m.parquet');
}

/**
 * Lands the flights in `bronze/<dataset>/date=D/flights-N.parquet`, one partition per departure
 * day, as the raw zone of a flight-delay lake would hold them. Returns the dates written.
 */
export async function writeSampleFlights(engine: Engine, lake: Lake, options: { dataset?: string; onDay?: (logicalDate: string, key: string) => void } = {}): Promise<string[]> {
  const dataset = options.dataset ?? 'flights';
  const partitioned = engine.tempPath('-flights');
  // One pass over the source: DuckDB writes a Hive-partitioned folder, then each file is put atomically.
  await engine.run(
    `COPY (SELECT *, strftime(date, '%Y-%m-%d') AS day FROM read_parquet($1) ORDER BY date, origin, destination)
     TO $2 (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day), WRITE_PARTITION_COLUMNS false)`,
    [flightsParquetPath(), partitioned],
  );
  const dates: string[] = [];
  for (const folder of (await readdir(partitioned)).sort()) {
    const logicalDate = folder.replace(/^day=/, '');
    // DuckDB may split a partition over several files (one per writer thread): land them all.
    const prefix = partitionPrefix('bronze', dataset, logicalDate);
    const files = (await readdir(path.join(partitioned, folder))).sort();
    const keys = files.map((_, index) => `${prefix}flights-${index}.parquet`);
    for (const [index, file] of files.entries()) await lake.putFile(path.join(partitioned, folder, file), keys[index]);
    // An earlier load split differently must not leave extra files behind (they would double rows).
    for (const stale of await lake.list(`${prefix}flights-`)) if (!keys.includes(stale.key)) await lake.delete(stale.key);
    dates.push(logicalDate);
    options.onDay?.(logicalDate, prefix);
  }
  return dates;
}
