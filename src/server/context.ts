/** What every route group is registered with. */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { App } from '../app/index.js';
import type { MetricsSource } from '../observability/index.js';
import type { ApiToken, Scope } from './auth.js';
import type { BackgroundRuns } from './background-runs.js';
import type { Detection } from './detection.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a token needs for the route; none: the route is open (health, docs). */
    scope?: Scope;
  }
}

/** The Fastify instance with zod schemas as route types. */
export type Api = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

export interface ApiContext {
  app: App;
  /** Set once the server is stopping: /readyz then says so, and load balancers stop sending. */
  stopping: { now: boolean };
  detection: Detection;
  runs: BackgroundRuns;
  metrics: MetricsSource;
  /** The tokens the API accepts; none: every route is open. */
  tokens: readonly ApiToken[];
}

/** OpenAPI security of a route that needs a token, when tokens are configured. */
export const BEARER = [{ bearer: [] }];
