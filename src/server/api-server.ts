/**
 * The HTTP API on Fastify: zod schemas validate every request and make the OpenAPI document;
 * bearer tokens with scopes, a body limit, a per-token rate limit and a request timeout guard
 * every route; detections that fit on the request's data run on a thread pool.
 */
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { createServer, type Server, type Socket } from 'node:net';
import Fastify, { type FastifyReply } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { App } from '../app/index.js';
import { InputError, oneLine } from '../errors.js';
import type { MetricsSource } from '../observability/index.js';
import type { RunServices } from '../pipeline/index.js';
import { DETOUR_VERSION } from '../version.js';
import { authorize, tokenKey, type ApiToken } from './auth.js';
import { BackgroundRuns } from './background-runs.js';
import type { ApiContext } from './context.js';
import { Detection } from './detection.js';
import { ApiError, describeError, errorHandler, TIMED_OUT } from './errors.js';
import { acceptFormBodies } from './form-body.js';
import { detectRoutes } from './routes/detect.js';
import { exploreRoutes } from './routes/explore.js';
import { healthRoutes } from './routes/health.js';
import { modelsRoutes } from './routes/models.js';
import { monitoringRoutes } from './routes/monitoring.js';
import { outliersRoutes } from './routes/outliers.js';
import { feedbackRoutes } from './routes/feedback.js';
import { predictRoutes } from './routes/predict.js';
import { resultsRoutes } from './routes/results.js';
import { runsRoutes } from './routes/runs.js';
import { webAppRoot } from './web-app.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the rate limit counts this request against: the token's key, else the client's address. */
    rateKey: string;
    /** The name of the token the request came with (its config entry); null without tokens. */
    tokenName: string | null;
    /**
     * Aborted when the request times out or its client goes away: what stops its detection or
     * Druid query. (Fastify's `request.signal` also fires once a request body has been read.)
     */
    abandoned: AbortSignal;
  }
}

export interface ApiServerOptions {
  /** TCP port; 0 picks a free one (read it from `url`). */
  port?: number;
  /** Interface to listen on; default every interface with tokens, loopback without. */
  host?: string;
  /**
   * In the first of several serving processes: offered each connection accepted on `port`, paused
   * (none of its bytes read); true when another process took it, false to serve it here, where
   * `servedHere` are open.
   */
  handOff?: (socket: Socket, servedHere: number) => boolean;
  /** In the others: listen on no port (`url` is empty) and serve the connections given to `serve`, those the first hands over. */
  handed?: boolean;
  /** Tokens the API accepts (see `apiTokens`); none: every route is open and only loopback is served. */
  tokens: readonly ApiToken[];
  /** Services runs started through the API execute with (opened on the first such request). */
  runServices: () => Promise<RunServices>;
  /** What /metrics serves; default the app's metrics. */
  metrics?: MetricsSource;
  /** API processes sharing the port: each enforces its share of the rate limit. Default 1. */
  processes?: number;
  /** Threads for detections that fit on the request's data. Default 1. */
  detectorThreads?: number;
}

export interface ApiServer {
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Serves a connection accepted elsewhere (by the first serving process). */
  serve(socket: Socket): void;
  /** Whether requests need a token (some are configured). */
  authenticated: boolean;
  /** Stops taking requests, lets those in flight finish (within the request timeout), then waits for the runs it started. */
  close(): Promise<void>;
}

/** How long a stopping server keeps taking requests before it closes its connections. */
const STOPPING_GRACE_MS = 1_000;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The interface the API listens on: `host` when given, else every interface with tokens and
 * loopback without.
 *
 * @throws InputError for a host beyond loopback without tokens: an API without tokens serves this machine only.
 */
export function listenHost(tokens: readonly ApiToken[], host?: string): string {
  const chosen = host ?? (tokens.length > 0 ? '0.0.0.0' : '127.0.0.1');
  if (tokens.length === 0 && !isLoopback(chosen)) {
    throw new InputError(`no API token is configured, so the API serves this machine only, not ${chosen}: add tokens (api.tokens in detour.yaml or DETOUR_API_TOKENS) to serve others`);
  }
  return chosen;
}

/** The URL a listening server serves, with the interface it listens on (`0.0.0.0`: every one). */
function urlOf(server: Server): string {
  const address = server.address();
  return typeof address === 'object' && address !== null ? `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : String(address);
}

/** A server accepting on `port` and `host` that gives each connection to `onConnection` paused, none of its bytes read, so that it can still go to another process. */
async function listenPaused(port: number, host: string, onConnection: (socket: Socket) => void): Promise<Server> {
  // As an http server's own: no Nagle delay on answers, and a client's half-close does not end the answer.
  const server = createServer({ pauseOnConnect: true, noDelay: true, allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => resolve());
  });
  return server;
}

/**
 * Serves the HTTP API of `app` (routes in README.md and at `/docs`; the document at `/openapi.json`).
 *
 * @example
 * ```ts
 * const server = await startApiServer(app, { port: 8080, tokens: apiTokens(app.config.api.tokens, process.env.DETOUR_API_TOKENS), runServices: () => app.services() });
 * // … curl http://127.0.0.1:8080/v1/runs …
 * await server.close();
 * ```
 * @throws InputError for a port that cannot be listened on, or a non-loopback host without tokens.
 */
export async function startApiServer(app: App, options: ApiServerOptions): Promise<ApiServer> {
  const { tokens, port } = options;
  const limits = app.config.api;
  const host = listenHost(tokens, options.host);
  const timeoutMs = limits.requestTimeoutSeconds * 1000;
  const detection = new Detection(app.models, options.detectorThreads ?? 1);
  const context: ApiContext = { app, detection, runs: new BackgroundRuns(options.runServices, app.logger), metrics: options.metrics ?? app.metrics, stopping: { now: false }, tokens };
  const api = Fastify({
    logger: false,
    bodyLimit: limits.bodyLimitBytes,
    handlerTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    // Errors before routing (a URL that does not decode) answer in the API's shape too.
    frameworkErrors: (error, _request, reply: FastifyReply) => {
      const { statusCode, msg } = describeError(error);
      void reply.code(statusCode).send({ status: 'error', msg });
    },
  }).withTypeProvider<ZodTypeProvider>();
  api.setValidatorCompiler(validatorCompiler);
  api.setSerializerCompiler(serializerCompiler);
  api.setErrorHandler(errorHandler(app.logger));
  api.setNotFoundHandler(async (request, reply) => reply.code(404).send({ status: 'error', msg: `no route ${request.method} ${request.url.split('?')[0]}` }));
  // A stopping server ends each connection after its answer, rather than keeping it alive for more.
  api.addHook('onSend', async (_request, reply) => {
    if (context.stopping.now) reply.header('connection', 'close');
  });
  api.decorateRequest('rateKey', '');
  api.decorateRequest('tokenName', null);
  api.decorateRequest('abandoned', null as unknown as AbortSignal);
  api.addHook('onRequest', async (request, reply) => {
    const abandon = new AbortController();
    const timer = setTimeout(() => abandon.abort(new ApiError(503, TIMED_OUT)), timeoutMs);
    reply.raw.once('close', () => {
      clearTimeout(timer);
      if (!reply.raw.writableFinished) abandon.abort(new ApiError(499, 'the client went away'));
    });
    request.abandoned = abandon.signal;
  });
  api.addHook('onRequest', async (request, reply) => {
    const { scope } = request.routeOptions.config;
    if (scope === undefined || tokens.length === 0) return;
    const outcome = authorize(tokens, request.headers.authorization, scope);
    if (outcome.status === 'unauthenticated') {
      reply.header('www-authenticate', 'Bearer');
      throw new ApiError(401, outcome.reason);
    }
    if (outcome.status === 'forbidden') throw new ApiError(403, outcome.reason);
    request.rateKey = tokenKey(outcome.token);
    request.tokenName = outcome.token.name;
  });
  acceptFormBodies(api);
  const processes = options.processes ?? 1;
  await api.register(rateLimit, {
    global: true,
    // Connections are spread evenly over the processes, so each counts its share of the limit.
    max: Math.max(1, Math.ceil(limits.rateLimit.max / processes)),
    timeWindow: limits.rateLimit.windowSeconds * 1000,
    keyGenerator: (request) => request.rateKey || request.ip,
    errorResponseBuilder: (_request, context) => new ApiError(429, `rate limit of ${limits.rateLimit.max} requests per ${limits.rateLimit.windowSeconds} s reached; retry in ${Math.ceil(context.ttl / 1000)} s`),
  });
  await api.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'detour', version: DETOUR_VERSION, description: 'Anomaly detection on demand (rb-aioutliers compatible), runs, anomalies, data quality and models.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
    transform: jsonSchemaTransform,
  });
  await api.register(swaggerUi, { routePrefix: '/docs' });
  api.get('/openapi.json', { schema: { hide: true }, config: { rateLimit: false } }, async () => api.swagger());

  for (const routes of [healthRoutes, outliersRoutes, detectRoutes, predictRoutes, runsRoutes, resultsRoutes, modelsRoutes, feedbackRoutes, exploreRoutes, monitoringRoutes]) routes(api, context);
  // The dashboard: static files, open like /docs (everything it shows comes from the API with a token).
  const webRoot = webAppRoot();
  if (webRoot === undefined) api.get('/', { schema: { hide: true } }, async (_request, reply) => reply.code(404).send({ status: 'error', msg: 'the dashboard is not built: run npm run build' }));
  else await api.register(fastifyStatic, { root: webRoot, prefix: '/', wildcard: false, index: 'index.html', schemaHide: true });

  // Connections given to the http server rather than accepted by it: it waits for none of them on
  // close, so they are counted here.
  const served = new Set<Socket>();
  let lastServedClosed: (() => void) | undefined;
  const serve = (socket: Socket) => {
    served.add(socket);
    socket.once('close', () => {
      if (served.delete(socket) && served.size === 0) lastServedClosed?.();
    });
    socket.allowHalfOpen = true;
    api.server.emit('connection', socket);
    // Accepted paused; the http server reads it from here on.
    socket.resume();
  };
  const { handOff } = options;
  let door: Server | undefined;
  try {
    if (handOff === undefined && options.handed !== true) await api.listen({ port: port ?? 0, host });
    else {
      await api.ready();
      // Node's http server tracks its connections (request timeouts, idle ones closed on close)
      // from 'listening' on; this one never listens, its connections are given to it.
      api.server.emit('listening');
      if (handOff !== undefined) {
        door = await listenPaused(port ?? 0, host, (socket) => {
          if (!handOff(socket, served.size)) serve(socket);
        });
      }
    }
  } catch (error) {
    await api.close();
    await detection.close();
    throw new InputError(`cannot serve the API on ${host}:${port}: ${oneLine(error)}`, { cause: error });
  }
  return {
    url: options.handed === true ? '' : urlOf(door ?? api.server),
    serve,
    authenticated: tokens.length > 0,
    close: async () => {
      // Requests already on their way (sent over a kept-alive connection, not read yet) still
      // arrive and are served; /readyz says the server is stopping meanwhile. Closing at once would
      // drop such a connection as idle.
      context.stopping.now = true;
      await new Promise((resolve) => setTimeout(resolve, STOPPING_GRACE_MS));
      door?.close();
      // Requests in flight finish; a client that stops reading its answer must not hold the shutdown for good.
      const cutOff = setTimeout(() => api.server.closeAllConnections(), timeoutMs);
      await api.close();
      if (served.size > 0) await new Promise<void>((resolve) => (lastServedClosed = resolve));
      clearTimeout(cutOff);
      await context.runs.settle();
      await detection.close();
    },
  };
}
