/**
 * Sinks: where a run's outcome goes besides the store. Alerts and alarms to a Slack-compatible
 * incoming webhook; alarms by email through an SMTP server.
 */
export { alarmEmail, alarmSlackMessage, type AlarmNotice } from './alarm-message.js';
export { EmailSink, type EmailSinkOptions } from './email.js';
export { slackMessage, type RunAlert } from './slack-message.js';
export { WebhookSink, type WebhookSinkOptions } from './webhook.js';
