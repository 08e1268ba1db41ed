/**
 * Sinks: where a run's outcome goes besides the store: alerts to a Slack-compatible incoming
 * webhook, and results (findings, run state changes) to a message bus for other teams.
 */
export { slackMessage, type RunAlert } from './slack-message.js';
export { WebhookSink, type WebhookSinkOptions } from './webhook.js';
export * from './results.js';
export { BusResultsSink, type BusResultsSinkOptions, type TopicPublisher } from './bus-results.js';
