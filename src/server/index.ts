/**
 * The HTTP API of `detour serve`: rb-aioutliers' `POST /api/v1/outliers`, `/v1/detect`, runs,
 * anomalies, quality and models, health and metrics, with its OpenAPI document and reference page.
 * Thin: every route parses, calls a capability (detectors, pipeline, store, the model cache) and
 * answers.
 */
export { apiTokens, type ApiToken, type Scope } from './auth.js';
export { listenHost, startApiServer, type ApiServer, type ApiServerOptions } from './api-server.js';
export { serveHandedConnections, servingProcessIndex, ServingProcesses, untilFirstGone, type ServingProcessesOptions } from './serving-processes.js';
