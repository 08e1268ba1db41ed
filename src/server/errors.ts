/** Every error as `{status: "error", msg}` with the status code it deserves: 4xx for what the client sent, never a 5xx for bad input. */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { InputError, NotFoundError, oneLine } from '../errors.js';
import type { Logger } from '../observability/index.js';

/** An error with the HTTP status to answer it with. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly statusCode: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What a request that outlasted `api.requestTimeoutSeconds` is answered with. */
export const TIMED_OUT = 'no answer within the request timeout (api.requestTimeoutSeconds); send less data or try again';

/** A zod issue path as people read it: `body.series.3.value`. */
function issueAt(context: string | undefined, path: string): string {
  const field = path.replace(/^\//, '').replaceAll('/', '.');
  return [context, field].filter(Boolean).join('.');
}

/** The status code and one-line message of an error. */
export function describeError(error: unknown): { statusCode: number; msg: string } {
  if (error instanceof ApiError) return { statusCode: error.statusCode, msg: oneLine(error) };
  if (error instanceof NotFoundError) return { statusCode: 404, msg: oneLine(error) };
  if (error instanceof InputError) return { statusCode: 400, msg: oneLine(error) };
  if (hasZodFastifySchemaValidationErrors(error)) {
    const [issue] = error.validation;
    return { statusCode: 400, msg: oneLine(`${issueAt(error.validationContext, issue.instancePath)}: ${issue.message}`) };
  }
  const { statusCode, code } = (error ?? {}) as Partial<FastifyError>;
  if (code === 'FST_ERR_HANDLER_TIMEOUT') return { statusCode: 503, msg: TIMED_OUT };
  // Fastify's own errors about a malformed request (bad JSON, wrong content type, too large) carry their 4xx.
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return { statusCode, msg: oneLine(error) };
  return { statusCode: 500, msg: 'internal error; the server log has the details' };
}

/** Fastify's error handler: the error as `{status: "error", msg}`; unexpected ones are logged. */
export function errorHandler(logger: Logger) {
  return async (error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { statusCode, msg } = describeError(error);
    if (statusCode >= 500) logger.error({ method: request.method, route: request.routeOptions.url, error: oneLine(error) }, 'request failed');
    return reply.code(statusCode).send({ status: 'error', msg });
  };
}
