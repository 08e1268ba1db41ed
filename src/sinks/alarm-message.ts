/** What an alarm says when it fires or resolves, as a Slack message and as an email. */

/** An alarm of a pipeline that changed state: `drift`, `performance`, `stale`, `flag_rate`, `run_failed`. */
export interface AlarmNotice {
  pipeline: string;
  alarm: string;
  state: 'firing' | 'resolved';
  /** One line saying what was measured against what. */
  message: string;
  /** The logical date it changed for, when one did. */
  date: string | null;
}

function headline(notice: AlarmNotice): string {
  const when = notice.date === null ? '' : ` ${notice.date}`;
  return `detour ${notice.pipeline}${when}: alarm ${notice.alarm} ${notice.state === 'firing' ? 'firing' : 'resolved'}`;
}

/** Slack reads `&`, `<` and `>` as markup. */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * The Slack incoming-webhook body of an alarm notice: one `text` line and a mrkdwn section.
 *
 * @example
 * ```ts
 * alarmSlackMessage({ pipeline: 'fleet', alarm: 'drift', state: 'firing', message: 'temperature PSI 3.1 > 0.2', date: '2014-07-10' }).text;
 * // ':rotating_light: detour fleet 2014-07-10: alarm drift firing: temperature PSI 3.1 > 0.2'
 * ```
 */
export function alarmSlackMessage(notice: AlarmNotice): { text: string; blocks: unknown[] } {
  const icon = notice.state === 'firing' ? ':rotating_light:' : ':white_check_mark:';
  const text = `${icon} ${escapeMrkdwn(headline(notice))}: ${escapeMrkdwn(notice.message)}`;
  return { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `${icon} *${escapeMrkdwn(headline(notice))}*\n${escapeMrkdwn(notice.message)}` } }] };
}

/** The subject and plain-text body of an alarm notice's email. */
export function alarmEmail(notice: AlarmNotice): { subject: string; text: string } {
  return { subject: `[${notice.state === 'firing' ? 'FIRING' : 'RESOLVED'}] ${headline(notice)}`, text: `${headline(notice)}\n\n${notice.message}\n` };
}
