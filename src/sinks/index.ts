/**
 * Sinks: where a run's outcome goes besides the store. For now, alerts to a Slack-compatible
 * incoming webhook.
 */
export { slackMessage, type RunAlert } from './slack-message.js';
export { WebhookSink, type WebhookSinkOptions } from './webhook.js';
