/**
 * `detour eval`: a series detector on labelled files in the Numenta Anomaly Benchmark's format
 * (CSV files of `timestamp,value`, and a JSON object naming each file's anomaly windows), scored
 * with NAB's rules; or a record detector on a file of labelled records, precision and recall per
 * label. Users measure a detector on their own labelled data.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import {
  detectRecordColumns,
  detectSeries,
  NAB_PROFILES,
  nabFileScore,
  nabTotal,
  RECORD_DETECTORS,
  SERIES_DETECTORS,
  type NabProfile,
  type NabTotal,
  type RecordDetectorName,
  type RowWindow,
  type SeriesDetectorName,
} from '../detectors/index.js';
import { openEngine, sqlIdentifier } from '../engine/index.js';
import { InputError } from '../errors.js';
import { loadInputFile, readFeatures, ROW_COLUMN } from './detect-file.js';

/** What to evaluate: a series detector with its params on a folder of labelled files. */
export interface EvaluateOptions {
  detector: string;
  params?: unknown;
  /** The folder the labels' file names are relative to. */
  data: string;
  /** The labels file: `{"<file>.csv": [["<start>", "<end>"], ...]}`. */
  labels: string;
  profile: NabProfile;
}

/** One file's figures. */
export interface FileEvaluation {
  file: string;
  rows: number;
  windows: number;
  detectedWindows: number;
  detections: number;
  raw: number;
}

export interface Evaluation {
  detector: string;
  profile: NabProfile;
  files: FileEvaluation[];
  total: NabTotal;
  /** Seconds the detector took over every file (reading and scoring left out). */
  detectorSeconds: number;
}

const LabelsSchema = z.record(z.string(), z.array(z.tuple([z.string(), z.string()])));

/**
 * A timestamp as NAB writes them (`2014-02-19 10:50:00.000000`, UTC) or ISO 8601; NaN when it is neither.
 * Fractions beyond milliseconds are dropped.
 */
export function parseTimestamp(text: string): number {
  const match = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?)(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/.exec(text.trim());
  if (match === null) return Number.NaN;
  const [, date, time = '00:00:00', fraction = '', zone = 'Z'] = match;
  return Date.parse(`${date}T${time.length === 5 ? `${time}:00` : time}${fraction.slice(0, 4)}${zone}`);
}

/** A `timestamp,value` CSV file as typed arrays; the header names the two columns (any order, other columns ignored). */
async function readSeriesCsv(file: string, name: string): Promise<{ timestampsMs: Float64Array; values: Float64Array }> {
  const lines = (await readFile(file, 'utf8')).split(/\r?\n/).filter((line) => line.trim() !== '');
  const header = (lines[0] ?? '').split(',').map((column) => column.trim().replace(/^"|"$/g, ''));
  const timeColumn = header.indexOf('timestamp');
  const valueColumn = header.indexOf('value');
  if (timeColumn < 0 || valueColumn < 0) throw new InputError(`${name}: the header must name columns timestamp and value, got "${lines[0] ?? ''}"`);
  const rows = lines.length - 1;
  const timestampsMs = new Float64Array(rows);
  const values = new Float64Array(rows);
  for (let row = 0; row < rows; row++) {
    const cells = lines[row + 1].split(',');
    const time = parseTimestamp((cells[timeColumn] ?? '').replace(/^"|"$/g, ''));
    if (Number.isNaN(time)) throw new InputError(`${name} line ${row + 2}: timestamp "${cells[timeColumn] ?? ''}" is not a date and time`);
    if (row > 0 && time <= timestampsMs[row - 1]) throw new InputError(`${name} line ${row + 2}: timestamps must increase`);
    const text = (cells[valueColumn] ?? '').trim();
    const value = text === '' ? Number.NaN : Number(text);
    if (text !== '' && !Number.isFinite(value)) throw new InputError(`${name} line ${row + 2}: value "${text}" is not a number`);
    timestampsMs[row] = time;
    values[row] = value;
  }
  return { timestampsMs, values };
}

/** The labels' windows of one file as row ranges: the rows whose time lies in [start, end]; windows holding no row are dropped. */
function rowWindows(timestampsMs: Float64Array, windows: readonly [string, string][], name: string): RowWindow[] {
  const firstRowAtOrAfter = (time: number) => {
    let low = 0;
    let high = timestampsMs.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (timestampsMs[middle] < time) low = middle + 1;
      else high = middle;
    }
    return low;
  };
  const rows = windows.map(([start, end]) => {
    const [startMs, endMs] = [parseTimestamp(start), parseTimestamp(end)];
    if (Number.isNaN(startMs) || Number.isNaN(endMs)) throw new InputError(`labels of ${name}: window ["${start}", "${end}"] is not a pair of timestamps`);
    if (startMs > endMs) throw new InputError(`labels of ${name}: window ["${start}", "${end}"] ends before it starts`);
    return { first: firstRowAtOrAfter(startMs), last: firstRowAtOrAfter(endMs + 1) - 1 };
  });
  const sorted = rows.filter((window) => window.first <= window.last).sort((a, b) => a.first - b.first);
  sorted.forEach((window, k) => {
    if (k > 0 && window.first <= sorted[k - 1].last) throw new InputError(`labels of ${name}: windows overlap`);
  });
  return sorted;
}

async function readLabels(file: string): Promise<z.infer<typeof LabelsSchema>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new InputError(`--labels ${file}: no such file`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InputError(`--labels ${file}: not JSON (${(error as Error).message})`);
  }
  const parsed = LabelsSchema.safeParse(json);
  if (!parsed.success) {
    const [issue] = parsed.error.issues;
    throw new InputError(`--labels ${file}: ${issue.path.length > 0 ? `at ${issue.path.join('.')}: ` : ''}expected an object of file name → list of [start, end] timestamps`);
  }
  if (Object.keys(parsed.data).length === 0) throw new InputError(`--labels ${file}: names no file`);
  return parsed.data;
}

/**
 * Runs a series detector on every file the labels name (each file on its own, from scratch) and
 * scores its flags with NAB's rules under `profile`, with window precision, recall and F1.
 *
 * @example
 * const { total } = await evaluateDetector({ detector: 'stream', data: 'nab/data', labels: 'nab/labels/combined_windows.json', profile: 'standard' });
 * total.normalised; // 0 = flags nothing, 100 = flags each window's first point and nothing else
 * @throws InputError on an unknown detector, bad params, a missing folder or file, labels that are not NAB's format, or a malformed CSV line.
 */
export async function evaluateDetector(options: EvaluateOptions): Promise<Evaluation> {
  if (!SERIES_DETECTORS.includes(options.detector as SeriesDetectorName)) throw new InputError(`--detector ${options.detector}: not a series detector (series detectors: ${SERIES_DETECTORS.join(', ')})`);
  const detector = options.detector as SeriesDetectorName;
  const isFolder = await stat(options.data).then((info) => info.isDirectory(), () => false);
  if (!isFolder) throw new InputError(`--data ${options.data}: no such folder`);
  const labels = await readLabels(options.labels);
  const weights = NAB_PROFILES[options.profile];
  const files: FileEvaluation[] = [];
  const scores = [];
  let detectorSeconds = 0;
  for (const [name, windows] of Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const file = path.resolve(options.data, name);
    if (!(await stat(file).then((info) => info.isFile(), () => false))) throw new InputError(`--data ${options.data}: no file ${name}, which the labels name`);
    const series = await readSeriesCsv(file, name);
    const rows = rowWindows(series.timestampsMs, windows, name);
    const started = performance.now();
    const verdicts = detectSeries(detector, series.timestampsMs, series.values, options.params ?? {});
    detectorSeconds += (performance.now() - started) / 1000;
    const score = nabFileScore(verdicts.anomalous, rows, weights);
    scores.push(score);
    files.push({ file: name, rows: series.values.length, windows: score.windows, detectedWindows: score.detectedWindows, detections: score.detections, raw: score.raw });
  }
  return { detector, profile: options.profile, files, total: nabTotal(scores), detectorSeconds };
}

/** What to evaluate on labelled records: a record detector on one file's feature columns, against its label column. */
export interface RecordEvaluateOptions {
  detector: string;
  params?: unknown;
  /** A .csv or .parquet file of records. */
  input: string;
  features: string[];
  /** The label column: empty, 0, false or normal for a normal record; 1 or true for an anomaly; any other value names the anomaly's kind. */
  label: string;
}

/** Records of one label and how many the detector flagged. */
export interface LabelRecall {
  label: string;
  records: number;
  flagged: number;
  /** flagged / records. */
  recall: number;
  /** flagged / (flagged + false alarms): the precision if this label were the only one. */
  precision: number;
}

export interface RecordEvaluation {
  detector: string;
  records: number;
  flagged: number;
  /** Normal records flagged. */
  falseAlarms: number;
  /** Over every anomaly label: labelled records flagged / all flagged, and / all labelled. */
  precision: number;
  recall: number;
  byLabel: LabelRecall[];
  detectorSeconds: number;
}

const NORMAL_LABELS = new Set(['', '0', 'false', 'normal']);

/** A label as read: null for a normal record, else its kind (`anomaly` for 1 or true). */
function labelKind(value: string | null): string | null {
  const text = (value ?? '').trim();
  if (NORMAL_LABELS.has(text.toLowerCase())) return null;
  return text === '1' || text.toLowerCase() === 'true' ? 'anomaly' : text;
}

/**
 * Runs a record detector (fitted on the file's records) and compares its flags with the label
 * column: precision and recall over all anomalies and per label.
 *
 * @example
 * const { byLabel } = await evaluateRecordDetector({ detector: 'dbscan', input: 'rides.csv', features: ['ride_dist_km', 'ride_time_min'], label: 'injected_kind' });
 * @throws InputError on an unknown detector, bad params, a missing file or column, or a feature value that is not a number.
 */
export async function evaluateRecordDetector(options: RecordEvaluateOptions): Promise<RecordEvaluation> {
  if (!RECORD_DETECTORS.includes(options.detector as RecordDetectorName)) throw new InputError(`--detector ${options.detector}: not a record detector (record detectors: ${RECORD_DETECTORS.join(', ')})`);
  const engine = await openEngine();
  let columns: Float64Array[];
  let labels: (string | null)[];
  try {
    await loadInputFile(engine, options.input);
    columns = await readFeatures(engine, options.input, options.features);
    if (!(await engine.columnNames('input')).includes(options.label)) throw new InputError(`--input ${options.input}: no label column ${options.label}`);
    labels = ((await engine.columns(`SELECT CAST(${sqlIdentifier(options.label)} AS VARCHAR) AS label FROM input ORDER BY ${ROW_COLUMN}`)).label as (string | null)[]).map(labelKind);
  } finally {
    await engine.close();
  }
  const started = performance.now();
  const verdicts = detectRecordColumns(options.detector as RecordDetectorName, columns, options.features, options.params ?? {});
  const detectorSeconds = (performance.now() - started) / 1000;
  const counts = new Map<string, { records: number; flagged: number }>();
  let falseAlarms = 0;
  let flagged = 0;
  labels.forEach((label, row) => {
    const isFlagged = verdicts.anomalous[row] === 1;
    flagged += isFlagged ? 1 : 0;
    if (label === null) {
      falseAlarms += isFlagged ? 1 : 0;
      return;
    }
    const entry = counts.get(label) ?? { records: 0, flagged: 0 };
    entry.records++;
    entry.flagged += isFlagged ? 1 : 0;
    counts.set(label, entry);
  });
  const byLabel = [...counts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([label, { records, flagged: found }]) => ({ label, records, flagged: found, recall: found / records, precision: found + falseAlarms === 0 ? Number.NaN : found / (found + falseAlarms) }));
  const labelled = byLabel.reduce((sum, entry) => sum + entry.records, 0);
  const found = byLabel.reduce((sum, entry) => sum + entry.flagged, 0);
  return {
    detector: options.detector,
    records: labels.length,
    flagged,
    falseAlarms,
    precision: flagged === 0 ? Number.NaN : found / flagged,
    recall: labelled === 0 ? Number.NaN : found / labelled,
    byLabel,
    detectorSeconds,
  };
}
