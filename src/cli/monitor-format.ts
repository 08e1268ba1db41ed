import type { AlarmRecord, MonitorReport } from '../store/index.js';
import { formatTable } from './format.js';

const metric = (value: number | null) => (value === null ? '-' : value.toFixed(4));
const ratio = (part: number, whole: number) => (whole === 0 ? '-' : (part / whole).toFixed(3));

/** What `detour monitor` prints: performance per day and model version, drift, forecast accuracy of series detectors (MAPE over non-zero values), ground truth and feedback counts, alarms. */
export function monitorReportText(pipeline: string, from: string, to: string, report: MonitorReport, alarms: readonly AlarmRecord[]): string {
  const sections: string[] = [];
  sections.push(
    report.performance.length === 0
      ? `${pipeline} ${from}..${to}: no predictions monitored`
      : formatTable(
          ['date', 'model', 'predictions', 'with truth', 'positives', 'AUC', 'log loss', 'Brier'],
          report.performance.map((row) => [row.date, `${row.model.name} v${row.model.version}`, row.predictions, row.matched, row.positives, metric(row.auc), metric(row.logLoss), metric(row.brier)]),
        ),
  );
  if (report.drift.length > 0) {
    sections.push(
      formatTable(
        ['date', 'model', 'feature', 'days', 'rows', 'PSI', 'KS'],
        report.drift.map((row) => [row.date, `${row.model.name} v${row.model.version}`, row.feature, row.windowDays, row.rows, row.constant ? 'constant' : metric(row.psi), row.constant ? 'constant' : metric(row.ks)]),
      ),
    );
  }
  if (report.forecasts.length > 0) {
    sections.push(
      formatTable(
        ['date', 'detector', 'model', 'points', 'MAE', 'MAPE %', 'MAPE points'],
        report.forecasts.map((row) => [row.date, row.detector, row.model === null ? '-' : `${row.model.name} v${row.model.version}`, row.points, metric(row.mae), metric(row.mape), row.mapePoints]),
      ),
    );
  }
  if (report.days.length > 0) {
    sections.push(
      formatTable(
        ['date', 'actuals', 'unmatched', 'flagged', 'confirmed', 'rejected', 'missed', 'precision', 'recall'],
        report.days.map((day) => [
          day.date,
          day.actuals,
          day.unmatchedActuals,
          day.flagged,
          day.truePositives,
          day.falsePositives,
          day.falseNegatives,
          ratio(day.truePositives, day.truePositives + day.falsePositives),
          ratio(day.truePositives, day.truePositives + day.falseNegatives),
        ]),
      ),
    );
  }
  sections.push(alarms.length === 0 ? 'alarms: none so far' : formatTable(['alarm', 'state', 'date', 'changed', 'message'], alarms.map((alarm) => [alarm.alarm, alarm.state, alarm.date ?? '-', alarm.changedAt.toISOString(), alarm.message]), [4]));
  return sections.join('\n\n');
}
