import Fastify from 'fastify';
import { InputError, oneLine } from '../errors.js';
import type { Metrics } from './metrics.js';

export interface MetricsServerOptions {
  metrics: Pick<Metrics, 'text' | 'contentType'>;
  /** TCP port; 0 picks a free one (read the real one from `url`). */
  port: number;
  /** Interface to listen on; default loopback, since metrics are for a local scraper or sidecar. */
  host?: string;
}

export interface MetricsServer {
  /** Base URL the server listens on, e.g. `http://127.0.0.1:9464`. */
  url: string;
  close(): Promise<void>;
}

/**
 * Serves `GET /metrics` (Prometheus text format) and `GET /healthz` (`{"status":"ok"}`). Any other
 * route answers 404 `{"status":"error","msg":…}`.
 *
 * @example
 * ```ts
 * const server = await startMetricsServer({ metrics, port: 9464 });
 * // … scrape http://127.0.0.1:9464/metrics …
 * await server.close();
 * ```
 *
 * @throws InputError for a port outside 0..65535 or one that cannot be listened on (say, in use).
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const { metrics, port, host = '127.0.0.1' } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InputError(`metrics port must be an integer from 0 to 65535, got ${port}`);
  }
  // Closing must not wait for a scraper's keep-alive connection to time out.
  const app = Fastify({ logger: false, forceCloseConnections: true });

  app.get('/metrics', async (_request, reply) => {
    const body = await metrics.text();
    return reply.header('content-type', metrics.contentType).send(body);
  });
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ status: 'error', msg: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );
  app.setErrorHandler(async (error, _request, reply) => {
    // Fastify's own errors (a malformed request) carry a 4xx statusCode; anything else is ours.
    const statusCode = (error as { statusCode?: number }).statusCode ?? 500;
    return reply.code(statusCode).send({ status: 'error', msg: oneLine(error) });
  });

  let url: string;
  try {
    url = await app.listen({ port, host });
  } catch (error) {
    await app.close();
    throw new InputError(`cannot serve metrics on ${host}:${port}: ${oneLine(error)}`, { cause: error });
  }
  return {
    url,
    close: async () => {
      await app.close();
    },
  };
}
