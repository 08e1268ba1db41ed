/** Liveness, readiness (run store and lake reachable) and Prometheus metrics. */
import { z } from 'zod';
import { oneLine } from '../../errors.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { ApiError } from '../errors.js';
import { errorResponses } from '../schemas.js';

/** A readiness probe that hangs is as bad as one that fails. */
const READY_CHECK_MS = 5_000;

async function check(what: string, probe: () => Promise<unknown>): Promise<void> {
  try {
    await Promise.race([probe(), new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${READY_CHECK_MS / 1000} s`)), READY_CHECK_MS).unref())]);
  } catch (error) {
    throw new ApiError(503, `${what} unreachable: ${oneLine(error)}`, { cause: error });
  }
}

export function healthRoutes(api: Api, { app, metrics, stopping }: ApiContext): void {
  const open = { rateLimit: false } as const;
  api.get('/healthz', { config: open, schema: { tags: ['health'], summary: 'liveness: the process answers', response: { 200: z.object({ status: z.literal('ok') }) } } }, async () => ({ status: 'ok' as const }));

  api.get(
    '/readyz',
    { config: open, schema: { tags: ['health'], summary: 'readiness: the run store and the lake answer, and the server is not stopping', response: { 200: z.object({ status: z.literal('ok'), store: z.string(), lake: z.string() }), ...errorResponses(503) } } },
    async () => {
      if (stopping.now) throw new ApiError(503, 'stopping: finishing the requests in flight');
      await check(`run store ${app.store.description}`, () => app.store.ping());
      await check(`lake ${app.lake.url}`, () => app.lake.exists('_readyz'));
      return { status: 'ok' as const, store: app.store.description, lake: app.lake.url };
    },
  );

  api.get(
    '/metrics',
    { config: { ...open, scope: 'read' }, schema: { tags: ['health'], summary: 'Prometheus metrics of every API process', security: BEARER, produces: ['text/plain'] } },
    async (_request, reply) => {
      const text = await metrics.text();
      return reply.header('content-type', metrics.contentType).send(text);
    },
  );
}
