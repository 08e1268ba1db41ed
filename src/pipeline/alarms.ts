/**
 * Alarms of a watched pipeline: pure verdicts (drift above its threshold, performance below one,
 * no data for hours, a detector flagging nothing or far more than usual, a run failing), a state
 * per alarm in the run store (firing / resolved: a firing alarm is not sent again), and delivery
 * of each change to the webhook and by email. Delivery never changes a run's outcome.
 */
import type { DetourConfig, MonitorConfig, TablePipelineConfig } from '../config/index.js';
import { oneLine } from '../errors.js';
import type { Logger } from '../observability/index.js';
import { EmailSink, WebhookSink, type AlarmNotice } from '../sinks/index.js';
import type { AlarmRecord, DriftRow, PerformanceRow, Store } from '../store/index.js';

export type AlarmName = 'drift' | 'performance' | 'stale' | 'flag_rate' | 'run_failed';

/** Whether an alarm should be firing now, and what to say. */
export interface AlarmVerdict {
  alarm: AlarmName;
  firing: boolean;
  message: string;
}

type AlarmsConfig = MonitorConfig['alarms'];

const format = (value: number) => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3));

/** Drift: any watched feature's (or the score's) PSI above `psi`, or KS above `ks` when set; undefined when none was measured. */
export function driftVerdict(rows: readonly DriftRow[], thresholds: MonitorConfig['drift']): AlarmVerdict | undefined {
  const measured = rows.filter((row) => !row.constant && (thresholds.features === undefined || thresholds.features.includes(row.feature)));
  if (measured.length === 0) return undefined;
  const drifted = measured.flatMap((row) => {
    const over: string[] = [];
    if (row.psi !== null && row.psi > thresholds.psi) over.push(`PSI ${format(row.psi)} > ${thresholds.psi}`);
    if (thresholds.ks !== undefined && row.ks !== null && row.ks > thresholds.ks) over.push(`KS ${format(row.ks)} > ${thresholds.ks}`);
    return over.length === 0 ? [] : [`${row.feature} (${row.model.name} v${row.model.version}) ${over.join(', ')}`];
  });
  const window = `over ${measured[0].windowDays} day${measured[0].windowDays === 1 ? '' : 's'}`;
  return drifted.length > 0
    ? { alarm: 'drift', firing: true, message: `drift from the training data ${window}: ${drifted.join('; ')}` }
    : { alarm: 'drift', firing: false, message: `no drift ${window}: every PSI ≤ ${thresholds.psi}${thresholds.ks === undefined ? '' : ` and KS ≤ ${thresholds.ks}`}` };
}

/** Performance: the newest date with at least `minRows` predictions matched to ground truth, against `minAuc` and `maxLogLoss`; undefined when none is set or no date has enough. */
export function performanceVerdict(rows: readonly PerformanceRow[], alarms: AlarmsConfig): AlarmVerdict | undefined {
  if (alarms.minAuc === undefined && alarms.maxLogLoss === undefined) return undefined;
  const judged = rows.filter((row) => row.matched >= alarms.minRows).sort((a, b) => (a.date < b.date ? -1 : a.date > b.date ? 1 : 0)).at(-1);
  if (judged === undefined) return undefined;
  const problems: string[] = [];
  if (alarms.minAuc !== undefined && judged.auc !== null && judged.auc < alarms.minAuc) problems.push(`AUC ${format(judged.auc)} < ${alarms.minAuc}`);
  if (alarms.maxLogLoss !== undefined && judged.logLoss !== null && judged.logLoss > alarms.maxLogLoss) problems.push(`log loss ${format(judged.logLoss)} > ${alarms.maxLogLoss}`);
  const subject = `${judged.model.name} v${judged.model.version} on ${judged.date} (${judged.matched} predictions with ground truth)`;
  return { alarm: 'performance', firing: problems.length > 0, message: problems.length > 0 ? `${subject}: ${problems.join(', ')}` : `${subject} within its thresholds` };
}

/** The median of counts (0 for none). */
function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Flag rate: a date's anomalies against the median of the dates before it: none while the median
 * is above zero, or more than `maxRatio` times the median (at least 1). Undefined with fewer than 3
 * earlier dates: nothing is usual yet.
 */
export function flagRateVerdict(flagged: number, earlier: readonly number[], options: { maxRatio: number }): AlarmVerdict | undefined {
  if (earlier.length < 3) return undefined;
  const usual = median(earlier);
  const context = `${flagged} anomalies against a median of ${format(usual)} over the ${earlier.length} days before`;
  if (flagged === 0 && usual > 0) return { alarm: 'flag_rate', firing: true, message: `the detectors flagged nothing: ${context}` };
  if (flagged > options.maxRatio * Math.max(usual, 1)) return { alarm: 'flag_rate', firing: true, message: `the detectors flagged more than ${options.maxRatio}× the usual: ${context}` };
  return { alarm: 'flag_rate', firing: false, message: `flag rate as usual: ${context}` };
}

/** Stale: no run of the pipeline succeeded for `hours` (never: stale from the start). */
export function staleVerdict(lastSuccess: Date | null, now: Date, hours: number): AlarmVerdict {
  if (lastSuccess === null) return { alarm: 'stale', firing: true, message: `no run has succeeded yet (stale after ${hours} h)` };
  const age = (now.getTime() - lastSuccess.getTime()) / 3_600_000;
  return age > hours
    ? { alarm: 'stale', firing: true, message: `no new data for ${format(age)} h (last run succeeded ${lastSuccess.toISOString()}, stale after ${hours} h)` }
    : { alarm: 'stale', firing: false, message: `new data ${format(age)} h ago` };
}

/** Where a pipeline's alarms go: its monitor's webhook (else its publish webhook) and email. */
export interface AlarmChannels {
  webhook?: string;
  email?: MonitorConfig['alarms']['email'];
}

export function alarmChannelsOf(pipeline: TablePipelineConfig): AlarmChannels {
  return { webhook: pipeline.monitor?.alarms.webhook ?? pipeline.publish.webhook, email: pipeline.monitor?.alarms.email };
}

/** Sends one change to every channel; a channel that fails (after its retries) is logged, never thrown. */
async function deliver(channels: AlarmChannels, notice: AlarmNotice, logger?: Logger): Promise<void> {
  const log = (channel: string, error: unknown) => logger?.error({ pipeline: notice.pipeline, alarm: notice.alarm, state: notice.state, channel, error: oneLine(error) }, 'alarm not delivered');
  const sends: Promise<void>[] = [];
  if (channels.webhook !== undefined) {
    const url = channels.webhook;
    sends.push((async () => void (await new WebhookSink({ url }).sendAlarm(notice)))().catch((error: unknown) => log('webhook', error)));
  }
  if (channels.email !== undefined) {
    const { smtp, from, to, retries, initialDelayMs, maxDelayMs, timeoutSeconds } = channels.email;
    sends.push(
      (async () => {
        const sink = new EmailSink({
          smtp,
          from,
          to,
          retries,
          initialDelayMs,
          maxDelayMs,
          timeoutMs: timeoutSeconds * 1000,
          onRetry: ({ attempt, error, delayMs }) => logger?.warn({ pipeline: notice.pipeline, alarm: notice.alarm, attempt, delayMs, error: oneLine(error) }, 'alarm email retried'),
        });
        try {
          await sink.sendAlarm(notice);
        } finally {
          sink.close();
        }
      })().catch((error: unknown) => log('email', error)),
    );
  }
  await Promise.all(sends);
}

/**
 * Applies verdicts to a pipeline's alarms: each one that changes state (fires, or resolves while
 * firing) is recorded, then sent; one already in its state is neither. Returns the changes.
 */
export async function applyAlarmVerdicts(
  services: { store: Store; logger?: Logger },
  pipeline: string,
  channels: AlarmChannels,
  verdicts: readonly (AlarmVerdict | undefined)[],
  date: string | null,
): Promise<AlarmRecord[]> {
  const changes: AlarmRecord[] = [];
  for (const verdict of verdicts) {
    if (verdict === undefined) continue;
    const changed = await services.store.changeAlarm(pipeline, verdict.alarm, { state: verdict.firing ? 'firing' : 'resolved', message: verdict.message, date });
    if (changed === undefined) continue;
    changes.push(changed);
    await deliver(channels, { pipeline, alarm: changed.alarm, state: changed.state, message: changed.message, date: changed.date }, services.logger);
  }
  return changes;
}

/**
 * Checks a watched pipeline's `stale` alarm now: it fires when no run of the pipeline (training
 * runs aside) succeeded for `monitor.alarms.staleHours`, and resolves when one did since. Meant
 * for a schedule (`detour monitor PIPELINE --check`); the monitor step of every run resolves it too.
 * Returns the change, if any; undefined also when the pipeline sets no `staleHours`.
 */
export async function checkStaleness(services: { store: Store; logger?: Logger }, pipelineName: string, pipeline: TablePipelineConfig, now: Date): Promise<AlarmRecord | undefined> {
  const hours = pipeline.monitor?.alarms.staleHours;
  if (hours === undefined) return undefined;
  const succeeded = await services.store.listRuns({ pipeline: pipelineName, status: 'succeeded', limit: 50 });
  const last = succeeded.find((run) => run.params.training === undefined)?.finishedAt ?? null;
  const [change] = await applyAlarmVerdicts(services, pipelineName, alarmChannelsOf(pipeline), [staleVerdict(last, now, hours)], null);
  return change;
}

/**
 * Checks the `stale` alarm of each of `pipelines` that sets `monitor.alarms.staleHours` every
 * `intervalMs` (what `detour serve` does with its schedules); a check that fails goes to `onError`
 * and the next one tries again.
 */
export function watchStaleness(services: { store: Store; logger?: Logger }, config: DetourConfig, pipelines: readonly string[], intervalMs: number, onError: (pipeline: string, error: unknown) => void): { stop(): void } {
  const watched = pipelines.filter((name) => config.pipelines[name]?.monitor?.alarms.staleHours !== undefined);
  let checking = false;
  const timer = setInterval(() => {
    if (checking) return;
    checking = true;
    void (async () => {
      for (const name of watched) await checkStaleness(services, name, config.pipelines[name], new Date()).catch((error: unknown) => onError(name, error));
    })().finally(() => (checking = false));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
