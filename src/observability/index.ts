/**
 * Observability: structured logs (pino, JSON lines on stderr) and Prometheus metrics with a small
 * HTTP endpoint to scrape them.
 */
export { createLogger, type CreateLoggerOptions, type Logger } from './logger.js';
export { Metrics, type MetricsOptions } from './metrics.js';
export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from './metrics-server.js';
export { GroupMetrics, groupMemberMetrics, type MetricsSource } from './group-metrics.js';
