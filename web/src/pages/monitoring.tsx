/**
 * Monitoring: a watched pipeline's model in production over a window — each day's AUC and log loss
 * against the ground truth, each feature's drift with the alarm's threshold, and the alarms firing
 * and resolved.
 */
import { useMemo } from 'preact/hooks';
import type uPlot from 'uplot';
import type { ModelRef, Monitoring } from '../api';
import { Badge, DateInput, formatNumber, formatTime, LoadState, Select } from '../components';
import type { PageProps } from '../main';
import { LinePlot } from '../plots/line-plot';
import { addDays, today, useLatestDate, useLoad, useQuery } from '../state';

const LINE_COLOURS = ['#2e86ab', '#e4572e', '#17a589', '#f3a712', '#8e44ad', '#c0392b', '#5d6d7e'];
const THRESHOLD = { stroke: '#d64545', dash: [6, 4], width: 1.5 };
const STATISTICS = ['psi', 'ks'] as const;
type Statistic = (typeof STATISTICS)[number];

/** One plotted line: its label and a value per date (null: none that day). */
interface Line {
  label: string;
  values: Map<string, number | null>;
}

/**
 * Lines over dates as uPlot wants them (x in seconds), each line coloured in turn, and a dashed
 * threshold line when one is configured.
 */
function plotOf(dates: string[], lines: Line[], threshold?: { label: string; value: number | null }): { data: uPlot.AlignedData; series: uPlot.Series[] } {
  const data: (number | null)[][] = lines.map((line) => dates.map((date) => line.values.get(date) ?? null));
  const series: uPlot.Series[] = [{ label: 'day' }, ...lines.map((line, i) => ({ label: line.label, stroke: LINE_COLOURS[i % LINE_COLOURS.length], width: 2, points: { show: true, size: 6 } }))];
  if (threshold !== undefined && threshold.value !== null) {
    data.push(dates.map(() => threshold.value));
    series.push({ label: threshold.label, ...THRESHOLD, points: { show: false } });
  }
  return { data: [dates.map((date) => Date.parse(`${date}T00:00:00Z`) / 1000), ...data], series };
}

/** `name` alone when the window saw one version of the model, else with the version. */
function versionLabel(name: string, model: ModelRef, versions: number): string {
  return versions > 1 ? `${name} v${model.version}` : name;
}

/** Adds `value` to the line labelled `label` in `lines`, creating it the first time. */
function addPoint(lines: Map<string, Line>, label: string, date: string, value: number | null): void {
  const line = lines.get(label) ?? { label, values: new Map() };
  line.values.set(date, value);
  lines.set(label, line);
}

export function MonitoringPage({ api, pipelines }: PageProps) {
  const [query, setQuery] = useQuery();
  const monitored = pipelines.filter((pipeline) => pipeline.monitored).map((pipeline) => pipeline.name);
  const pipeline = monitored.find((name) => name === query.pipeline) ?? monitored[0];
  const latest = useLatestDate(api, pipeline);
  const to = query.to ?? latest ?? today();
  const from = query.from ?? addDays(to, -30);
  const [loaded] = useLoad(async () => (pipeline === undefined ? undefined : api.get<Monitoring>('/v1/monitoring', { pipeline, from, to })), `${pipeline}:${from}:${to}`);
  const statistic: Statistic = query.stat === 'ks' ? 'ks' : 'psi';
  if (pipeline === undefined) return <p class="muted">No pipeline is monitored: give one `monitor:` in detour.yaml.</p>;
  const report = loaded.data;
  return (
    <div>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <Select label="Pipeline" value={pipeline} options={monitored} onChange={(name) => setQuery({ pipeline: name, from: undefined, to: undefined })} />
        <DateInput label="from" value={from} onChange={(date) => setQuery({ pipeline, from: date })} />
        <DateInput label="to" value={to} onChange={(date) => setQuery({ pipeline, to: date })} />
      </form>
      <LoadState loaded={loaded} />
      {report !== undefined && (
        <>
          <Performance report={report} />
          <Drift report={report} statistic={statistic} onStatistic={(stat) => setQuery({ pipeline, stat }, true)} />
          <Alarms report={report} />
        </>
      )}
    </div>
  );
}

/** A day the performance alarm judges (enough ground truth) whose AUC is below the configured minimum. */
function belowMinAuc(row: Monitoring['performance'][number], thresholds: Monitoring['thresholds']): boolean {
  return thresholds.minAuc !== null && row.auc !== null && row.matched >= thresholds.minRows && row.auc < thresholds.minAuc;
}

function Performance({ report }: { report: Monitoring }) {
  const { performance, thresholds } = report;
  const plot = useMemo(() => {
    const versions = new Set(performance.map((row) => row.model.version)).size;
    const lines = new Map<string, Line>();
    for (const row of performance) addPoint(lines, versionLabel('AUC', row.model, versions), row.date, row.auc);
    for (const row of performance) addPoint(lines, versionLabel('log loss', row.model, versions), row.date, row.logLoss);
    const dates = [...new Set(performance.map((row) => row.date))].sort();
    return plotOf(dates, [...lines.values()], { label: 'min AUC', value: thresholds.minAuc });
  }, [report]);
  return (
    <section class="monitoring-performance" aria-label="performance">
      <h2>Performance against the ground truth</h2>
      {performance.length === 0 ? (
        <p class="muted">
          No predictions of {report.pipeline} monitored in {report.from}..{report.to}.
        </p>
      ) : (
        <>
          <LinePlot label={`AUC and log loss of ${report.pipeline} per day`} time daily height={260} data={plot.data} series={plot.series} />
          <div class="table-wrap">
            <table class="performance">
              <thead>
                <tr>
                  <th>Day</th>
                  <th>Model</th>
                  <th class="number">Predictions</th>
                  <th class="number">With ground truth</th>
                  <th class="number">Positives</th>
                  <th class="number">AUC</th>
                  <th class="number">Log loss</th>
                  <th class="number">Brier</th>
                </tr>
              </thead>
              <tbody>
                {performance.map((row) => (
                  <tr>
                    <td>{row.date}</td>
                    <td>
                      {row.model.name} v{row.model.version}
                    </td>
                    <td class="number">{formatNumber(row.predictions)}</td>
                    <td class="number">{formatNumber(row.matched)}</td>
                    <td class="number">{formatNumber(row.positives)}</td>
                    <td class={belowMinAuc(row, thresholds) ? 'number below' : 'number'}>{formatNumber(row.auc)}</td>
                    <td class="number">{formatNumber(row.logLoss)}</td>
                    <td class="number">{formatNumber(row.brier)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

function Drift({ report, statistic, onStatistic }: { report: Monitoring; statistic: Statistic; onStatistic: (statistic: Statistic) => void }) {
  const { drift, thresholds } = report;
  const plot = useMemo(() => {
    const versions = new Set(drift.map((row) => row.model.version)).size;
    const lines = new Map<string, Line>();
    for (const row of drift) addPoint(lines, versionLabel(row.feature, row.model, versions), row.date, row[statistic]);
    const dates = [...new Set(drift.map((row) => row.date))].sort();
    return plotOf(dates, [...lines.values()], { label: `threshold (${statistic.toUpperCase()})`, value: thresholds[statistic] });
  }, [report, statistic]);
  const alarmed = thresholds.features === null ? 'every feature and the score' : thresholds.features.join(', ');
  const threshold = thresholds[statistic];
  return (
    <section class="monitoring-drift" aria-label="drift">
      <h2>Drift from the training data</h2>
      {drift.length === 0 ? (
        <p class="muted">No drift measured in this window.</p>
      ) : (
        <>
          <div class="row">
            <Select label="Statistic" value={statistic} options={STATISTICS} onChange={(value) => onStatistic(value as Statistic)} />
            <span class="muted threshold">
              {threshold === null ? `no ${statistic.toUpperCase()} threshold: PSI alone decides` : `drift: ${statistic.toUpperCase()} > ${threshold}`} · alarm on {alarmed}
            </span>
          </div>
          <LinePlot label={`${statistic.toUpperCase()} of each feature of ${report.pipeline} per day`} time daily height={260} data={plot.data} series={plot.series} />
        </>
      )}
    </section>
  );
}

function Alarms({ report }: { report: Monitoring }) {
  return (
    <section class="monitoring-alarms" aria-label="alarms">
      <h2>Alarms</h2>
      {report.alarms.length === 0 ? (
        <p class="muted">No alarm of {report.pipeline} has fired.</p>
      ) : (
        <div class="table-wrap">
          <table class="alarms">
            <thead>
              <tr>
                <th>Alarm</th>
                <th>State</th>
                <th>For day</th>
                <th>Changed (UTC)</th>
                <th>Message</th>
              </tr>
            </thead>
            <tbody>
              {report.alarms.map((alarm) => (
                <tr data-alarm={alarm.alarm}>
                  <td>{alarm.alarm}</td>
                  <td>
                    <Badge status={alarm.state} />
                  </td>
                  <td>{alarm.date ?? '–'}</td>
                  <td>{formatTime(alarm.changedAt)}</td>
                  <td class="message">{alarm.message}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
