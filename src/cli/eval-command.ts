/** `detour eval`: a detector on labelled data: series scored with the Numenta Anomaly Benchmark's rules, records per label. */
import { Command, Option } from 'commander';
import { InputError } from '../errors.js';
import { evaluateDetector, evaluateRecordDetector, type Evaluation, type RecordEvaluation } from '../pipeline/index.js';
import { formatTable } from './format.js';

const PROFILES = ['standard', 'low_fp', 'low_fn'] as const;

interface EvalOptions {
  detector: string;
  params?: unknown;
  data?: string;
  labels?: string;
  profile: (typeof PROFILES)[number];
  input?: string;
  features?: string[];
  label?: string;
  json?: boolean;
}

function paramsJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InputError(`--params must be a JSON object, got ${text}`);
  }
}

const figure = (value: number, digits: number) => (Number.isNaN(value) ? '-' : value.toFixed(digits));

/** The per-file table and the totals, as `detour eval` prints them. */
export function formatEvaluation(evaluation: Evaluation): string {
  const { total } = evaluation;
  const table = formatTable(
    ['file', 'rows', 'windows', 'detected', 'detections', 'raw score'],
    evaluation.files.map((file) => [file.file, file.rows, file.windows, file.detectedWindows, file.detections, file.raw.toFixed(3)]),
  );
  return [
    table,
    '',
    `NAB score (${evaluation.profile}) of ${evaluation.detector}: ${figure(total.normalised, 1)}  (raw ${total.raw.toFixed(3)}; null ${total.null.toFixed(1)}, perfect ${total.perfect.toFixed(1)})`,
    `windows: ${total.detectedWindows} of ${total.windows} detected · precision ${figure(total.precision, 3)} · recall ${figure(total.recall, 3)} · F1 ${figure(total.f1, 3)} · ${evaluation.detectorSeconds.toFixed(2)} s detecting`,
  ].join('\n');
}

/** The per-label table and the totals of a record detector. */
export function formatRecordEvaluation(evaluation: RecordEvaluation): string {
  const table = formatTable(
    ['label', 'records', 'flagged', 'recall', 'precision'],
    evaluation.byLabel.map((entry) => [entry.label, entry.records, entry.flagged, figure(entry.recall, 3), figure(entry.precision, 3)]),
  );
  return [
    table,
    '',
    `${evaluation.detector}: ${evaluation.flagged} of ${evaluation.records} records flagged, ${evaluation.falseAlarms} of them normal · precision ${figure(evaluation.precision, 3)} · recall ${figure(evaluation.recall, 3)} · ${evaluation.detectorSeconds.toFixed(2)} s detecting`,
  ].join('\n');
}

async function evaluate(options: EvalOptions): Promise<string> {
  const { input, features, label, data, labels } = options;
  if (input !== undefined) {
    if (data !== undefined || labels !== undefined) throw new InputError('give either --data and --labels (series) or --input (records), not both');
    if (features === undefined || label === undefined) throw new InputError('--input needs --features and --label');
    const evaluation = await evaluateRecordDetector({ ...options, input, features, label });
    return options.json ? JSON.stringify(evaluation) : formatRecordEvaluation(evaluation);
  }
  if (data === undefined || labels === undefined) throw new InputError('give --data and --labels (labelled series), or --input, --features and --label (labelled records)');
  const evaluation = await evaluateDetector({ ...options, data, labels });
  return options.json ? JSON.stringify(evaluation) : formatEvaluation(evaluation);
}

export function evalCommand(): Command {
  return new Command('eval')
    .description('score a detector on labelled data: series (CSV timestamp,value files and NAB-format window labels) by NAB score and window precision/recall/F1, or records by precision/recall per label')
    .requiredOption('--detector <name>', 'series: stream, shallow, arima, iforest; records: dbscan, iforest')
    .option('--params <json>', 'the detector\'s params as a JSON object, e.g. \'{"threshold":6}\'', paramsJson)
    .option('--data <folder>', 'series: the folder the labels\' file names are relative to')
    .option('--labels <file>', 'series: JSON object of file name → list of [start, end] window timestamps (NAB\'s combined_windows.json)')
    .addOption(new Option('--profile <profile>', 'series: NAB application profile').choices(PROFILES).default('standard'))
    .option('--input <file>', 'records: a .csv or .parquet file of labelled records')
    .option('--features <columns>', 'records: comma-separated numeric feature columns', (text: string) => text.split(',').map((name) => name.trim()).filter(Boolean))
    .option('--label <column>', 'records: label column (empty, 0, false or normal: a normal record; 1 or true: an anomaly; else the anomaly\'s kind)')
    .option('--json', 'print the evaluation as JSON')
    .action(async (options: EvalOptions) => console.log(await evaluate(options)));
}
