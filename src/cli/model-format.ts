/** How model versions and training runs read on a terminal. */
import { formatMetric, PROMOTION_METRIC, type SupervisedFacts, type TrainingResult } from '../pipeline/index.js';
import type { ModelStageChange, ModelVersion } from '../store/index.js';
import type { CliContext } from './context.js';
import { formatTable, runSeconds } from './format.js';

const loss = (metrics: Record<string, number> | null) => {
  const value = metrics?.[PROMOTION_METRIC];
  return value === undefined ? '-' : formatMetric(value);
};

/** A calibration table: per probability bin, the validation rows, their mean probability and how often the outcome happened. */
function calibrationTable(calibration: SupervisedFacts['calibration']): string {
  return formatTable(['probability', 'rows', 'mean probability', 'observed rate'], calibration.map((bin) => [`${bin.from.toFixed(1)}–${bin.to.toFixed(1)}`, bin.rows, bin.mean_probability.toFixed(3), bin.observed_rate.toFixed(3)]));
}

/** What a training run trained per model, what it skipped and why, and where its summary is. */
export function printTrainingResult(context: CliContext, result: TrainingResult): void {
  const { run, summary } = result;
  console.log(`training run ${run.id} of ${run.pipeline} for ${summary.date} ${run.status} in ${runSeconds(run)} s`);
  for (const model of summary.models) {
    console.log(`\nmodel ${model.model} (window ${model.window.from}..${model.window.to}): ${model.trained.length} trained, ${model.skipped.length} skipped`);
    if (model.trained.length > 0) {
      console.log(formatTable(['name', 'version', PROMOTION_METRIC, 'stage', 'why'], model.trained.map((trained) => [trained.name, trained.version, loss(trained.metrics), trained.stage, trained.reason]), [3, 4]));
    }
    for (const skipped of model.skipped) console.log(`skipped ${skipped.entity ?? model.model}: ${skipped.reason}`);
    for (const excluded of model.excluded ?? []) console.log(`${excluded.rows.toLocaleString('en-US')} rows left out of training: ${excluded.reason}`);
    for (const trained of model.trained.filter((candidate) => candidate.calibration !== undefined)) {
      console.log(`\n${trained.name} v${trained.version} on its validation rows: ROC AUC ${trained.metrics.validation_auc?.toFixed(3) ?? '-'}, log loss ${formatMetric(trained.metrics.validation_log_loss)}, Brier ${formatMetric(trained.metrics.validation_brier)}\n${calibrationTable(trained.calibration ?? [])}`);
    }
  }
  console.log(`\nsummary: ${context.lake.url}/${result.summaryKey}`);
}

const date = (value: Date | null) => (value === null ? '-' : value.toISOString().replace(/\.\d+Z$/, 'Z'));

/** One row per version: what `detour models list` shows. */
export function modelListTable(models: ModelVersion[]): string {
  return formatTable(
    ['name', 'version', 'stage', 'detector', PROMOTION_METRIC, 'window', 'trained', 'training run'],
    models.map((model) => [model.name, model.version, model.stage, model.detector, loss(model.metrics), `${model.window.from}..${model.window.to}`, date(model.registeredAt), model.trainingRunId]),
    [2, 3],
  );
}

/** Everything about one version: facts, metrics, params, training inputs, a supervised model's feature ranges and calibration, and the name's stage history. */
export function modelDetails(model: ModelVersion, history: ModelStageChange[], supervised?: SupervisedFacts): string {
  const facts: [string, string | number][] = [
    ['name', model.name],
    ['version', model.version],
    ['stage', model.stage],
    ['detector', model.detector],
    ['entity', model.entity ?? '- (all rows)'],
    ...(supervised === undefined ? [] : [['label', supervised.label] as [string, string]]),
    ['training window', `${model.window.from}..${model.window.to}`],
    ['training run', model.trainingRunId],
    ['registered', date(model.registeredAt)],
    ['promoted', date(model.promotedAt)],
    ['previous production', model.previousProduction === null ? '-' : `v${model.previousProduction}`],
    ['detour version', model.detourVersion],
    ['artifact', model.artifact === null ? '-' : `${model.artifact.key} (${model.artifact.bytes} bytes, sha256 ${model.artifact.sha256})`],
  ];
  return [
    formatTable(['field', 'value'], facts, [1]),
    `\nmetrics\n${formatTable(['metric', 'value'], Object.entries(model.metrics ?? {}).map(([name, value]) => [name, formatMetric(value)]))}`,
    `\nparams\n${formatTable(['param', 'value'], Object.entries(model.params).map(([name, value]) => [name, JSON.stringify(value)]))}`,
    ...(supervised === undefined
      ? []
      : [
          `\nfeature ranges\n${formatTable(['feature', 'min', 'max'], Object.entries(supervised.ranges).map(([feature, range]) => [feature, range.min ?? '-', range.max ?? '-']))}`,
          `\ncalibration on the validation rows\n${calibrationTable(supervised.calibration)}`,
        ]),
    `\ntraining inputs (${model.inputs.length})\n${formatTable(['key', 'sha256'], model.inputs.map((input) => [input.key, input.sha256]))}`,
    `\nstage history of ${model.name}\n${formatTable(['at', 'version', 'stage', 'reason'], history.map((change) => [date(change.changedAt), change.version, change.stage, change.reason]), [2, 3])}`,
  ].join('\n');
}

/** Params and metrics of two versions side by side, with the change of each metric. */
export function modelDiff(a: ModelVersion, b: ModelVersion): string {
  const rows: (string | number)[][] = [
    ['detector', a.detector, b.detector, a.detector === b.detector ? '' : 'changed'],
    ['training window', `${a.window.from}..${a.window.to}`, `${b.window.from}..${b.window.to}`, ''],
    ['stage', a.stage, b.stage, ''],
  ];
  const params = [...new Set([...Object.keys(a.params), ...Object.keys(b.params)])].sort();
  for (const name of params) {
    const [left, right] = [JSON.stringify(a.params[name]) ?? '-', JSON.stringify(b.params[name]) ?? '-'];
    rows.push([`params.${name}`, left, right, left === right ? '' : 'changed']);
  }
  const metrics = [...new Set([...Object.keys(a.metrics ?? {}), ...Object.keys(b.metrics ?? {})])].sort();
  for (const name of metrics) {
    const [left, right] = [a.metrics?.[name], b.metrics?.[name]];
    const change = left === undefined || right === undefined ? '' : right === left ? '' : `${right > left ? '+' : ''}${formatMetric(right - left)}`;
    rows.push([`metrics.${name}`, left === undefined ? '-' : formatMetric(left), right === undefined ? '-' : formatMetric(right), change]);
  }
  return formatTable(['', `v${a.version}`, `v${b.version}`, 'change'], rows);
}
