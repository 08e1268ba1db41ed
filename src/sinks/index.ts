/**
 * Sinks: where a run's outcome goes besides the store: alerts and alarms to a Slack-compatible
 * incoming webhook, alarms by email through an SMTP server, and results (findings, run state
 * changes) to a message bus for other teams.
 */
export { alarmEmail, alarmSlackMessage, type AlarmNotice } from './alarm-message.js';
export { EmailSink, type EmailSinkOptions } from './email.js';
export { slackMessage, type RunAlert } from './slack-message.js';
export { WebhookSink, type WebhookSinkOptions } from './webhook.js';
export * from './results.js';
export { BusResultsSink, type BusResultsSinkOptions, type TopicPublisher } from './bus-results.js';
