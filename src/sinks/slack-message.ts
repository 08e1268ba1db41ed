import { oneLine } from '../errors.js';

/** What a run reports to people: it failed, or it found more anomalies than they want to ignore. */
export interface RunAlert {
  kind: 'run_failed' | 'anomaly_threshold';
  pipeline: string;
  runId: string;
  /** The run's logical date, `YYYY-MM-DD`. */
  logicalDate: string;
  /** For `run_failed`: the error a user would see. */
  error?: string;
  /** For `anomaly_threshold`: anomalies found, and the count above which an alert is sent. */
  anomalies?: number;
  threshold?: number;
  /** A link to the run in a dashboard, shown as "Open run". */
  dashboardUrl?: string;
}

/** Slack caps a section's text at 3000 characters; leave room for the rest of the message. */
const MAX_ERROR_CHARS = 2000;

/** Slack reads `&`, `<` and `>` as markup (links, mentions) in both `text` and mrkdwn. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, maxChars: number): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars - 1)}…`;
}

function anomalySummary(alert: RunAlert): string {
  const count =
    alert.anomalies === undefined ? 'anomalies' : `${alert.anomalies} ${alert.anomalies === 1 ? 'anomaly' : 'anomalies'}`;
  return alert.threshold === undefined ? count : `${count} (threshold ${alert.threshold})`;
}

/**
 * The Slack incoming-webhook body for an alert: a one-line `text` (shown in notifications and by
 * receivers that ignore blocks) and `blocks` with the same facts laid out in mrkdwn.
 *
 * @example
 * ```ts
 * slackMessage({ kind: 'anomaly_threshold', pipeline: 'flights', runId: 'r1', logicalDate: '2001-01-05', anomalies: 42, threshold: 20 }).text;
 * // ':warning: detour flights 2001-01-05: 42 anomalies (threshold 20)'
 * ```
 */
export function slackMessage(alert: RunAlert): { text: string; blocks: unknown[] } {
  const pipeline = escapeMrkdwn(alert.pipeline);
  const runId = escapeMrkdwn(alert.runId);
  const logicalDate = escapeMrkdwn(alert.logicalDate);
  const error = alert.error === undefined ? undefined : escapeMrkdwn(truncate(oneLine(alert.error), MAX_ERROR_CHARS));

  let text: string;
  let details: string;
  if (alert.kind === 'run_failed') {
    text = `:rotating_light: detour run failed: ${pipeline} ${logicalDate} (run ${runId})${error === undefined ? '' : `: ${error}`}`;
    details = `:rotating_light: *detour run failed*\n*Pipeline:* ${pipeline}\n*Logical date:* ${logicalDate}\n*Run:* \`${runId}\``;
    // A fenced block keeps paths and SQL in the error readable; backticks inside would end it early.
    if (error !== undefined) details += `\n*Error:*\n\`\`\`${error.replace(/`/g, 'ˋ')}\`\`\``;
  } else {
    const summary = anomalySummary(alert);
    text = `:warning: detour ${pipeline} ${logicalDate}: ${summary}`;
    details = `:warning: *detour found ${summary}*\n*Pipeline:* ${pipeline}\n*Logical date:* ${logicalDate}\n*Run:* \`${runId}\``;
  }

  const blocks: unknown[] = [{ type: 'section', text: { type: 'mrkdwn', text: details } }];
  if (alert.dashboardUrl !== undefined) {
    // Inside <url|label> a raw `|` or `>` would cut the link short.
    const link = alert.dashboardUrl.replace(/\|/g, '%7C').replace(/>/g, '%3E');
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `<${link}|Open run>` }] });
  }
  return { text, blocks };
}
