/** Fitting any supervised model the same way: on the older rows, measured on the most recent ones. */
import { holdOutCut, type ModelMetrics } from '../trainable/index.js';
import { brierScore, calibrationTable, logLoss, rocAuc, type CalibrationBin } from './metrics.js';
import type { LabelledRows, SupervisedModel } from './supervised.js';

/** A fitted model with how it did on the validation rows, or why none could be fitted. */
export type SupervisedFitOutcome<Artifact> = { artifact: Artifact; metrics: ModelMetrics; calibration: CalibrationBin[] } | { skipped: string };

/** The first `1 - share` of the rows (in time order) to train on and the rest to validate with, at least one row each. */
export function holdOutLabelled(rows: LabelledRows, share: number): { training: LabelledRows; validation: LabelledRows } {
  const cut = holdOutCut(rows.labels.length, share);
  return {
    training: { features: rows.features, columns: rows.columns.map((column) => column.subarray(0, cut)), labels: rows.labels.subarray(0, cut) },
    validation: { features: rows.features, columns: rows.columns.map((column) => column.subarray(cut)), labels: rows.labels.subarray(cut) },
  };
}

function positivesOf(labels: Uint8Array): number {
  let positives = 0;
  for (const label of labels) positives += label;
  return positives;
}

/**
 * Fits `model` on `training` and measures it on `validation` through the artifact as it will be
 * stored: `validation_loss` is the validation log loss (what promotion compares), with ROC AUC
 * (left out when the validation rows hold one outcome only), Brier score and a calibration table.
 * Training rows of one outcome only cannot be fitted: skipped, with why.
 */
export function fitSupervised<Params, Artifact, Fitted>(model: SupervisedModel<Params, Artifact, Fitted>, training: LabelledRows, validation: LabelledRows, params: Params): SupervisedFitOutcome<Artifact> {
  const trainingRows = training.labels.length;
  const positives = positivesOf(training.labels);
  if (positives === 0 || positives === trainingRows) return { skipped: `all ${trainingRows} training rows have outcome ${positives === 0 ? 0 : 1}: nothing to tell apart` };
  if (validation.labels.length === 0) return { skipped: 'no rows to validate with' };
  const artifact = model.fit(training, params);
  const fitted = model.load(JSON.parse(JSON.stringify(artifact)));
  const validationProbabilities = model.predictProbability(fitted, validation.columns);
  const auc = rocAuc(validation.labels, validationProbabilities);
  const validationLogLoss = logLoss(validation.labels, validationProbabilities);
  return {
    artifact,
    metrics: {
      validation_loss: validationLogLoss,
      validation_log_loss: validationLogLoss,
      ...(Number.isNaN(auc) ? {} : { validation_auc: auc }),
      validation_brier: brierScore(validation.labels, validationProbabilities),
      training_log_loss: logLoss(training.labels, model.predictProbability(fitted, training.columns)),
      training_rows: trainingRows,
      training_positive_rate: positives / trainingRows,
      validation_rows: validation.labels.length,
      validation_positive_rate: positivesOf(validation.labels) / validation.labels.length,
    },
    calibration: calibrationTable(validation.labels, validationProbabilities),
  };
}
