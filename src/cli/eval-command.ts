/** `detour eval`: a series detector on labelled files, scored with the Numenta Anomaly Benchmark's rules. */
import { Command, Option } from 'commander';
import { InputError } from '../errors.js';
import { evaluateDetector, type Evaluation } from '../pipeline/index.js';
import { formatTable } from './format.js';

const PROFILES = ['standard', 'low_fp', 'low_fn'] as const;

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

export function evalCommand(): Command {
  return new Command('eval')
    .description('score a series detector on labelled CSV files (timestamp,value) with NAB-format labels: NAB score, window precision/recall/F1')
    .requiredOption('--detector <name>', 'series detector: stream, shallow, arima, iforest')
    .option('--params <json>', 'the detector\'s params as a JSON object, e.g. \'{"threshold":6}\'', paramsJson)
    .requiredOption('--data <folder>', 'folder the labels\' file names are relative to')
    .requiredOption('--labels <file>', 'JSON object: file name → list of [start, end] window timestamps (NAB\'s combined_windows.json)')
    .addOption(new Option('--profile <profile>', 'NAB application profile').choices(PROFILES).default('standard'))
    .option('--json', 'print the evaluation as JSON')
    .action(async (options: { detector: string; params?: unknown; data: string; labels: string; profile: (typeof PROFILES)[number]; json?: boolean }) => {
      const evaluation = await evaluateDetector(options);
      console.log(options.json ? JSON.stringify(evaluation) : formatEvaluation(evaluation));
    });
}
