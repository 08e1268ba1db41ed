/** Runs: list and inspect them, start one (202: it goes on the queue), resume or rerun one. */
import { z } from 'zod';
import { dateRange } from '../../dates.js';
import { InputError } from '../../errors.js';
import { backfill, recordedInputs, runParamsOf, submitRerun, submitResume, submitRun } from '../../pipeline/index.js';
import type { RunRecord } from '../../store/index.js';
import { BEARER, type Api, type ApiContext } from '../context.js';
import { decodeCursor, encodeCursor, errorResponses, IsoDateSchema, NameSchema, RunIdSchema } from '../schemas.js';

const RunStatusSchema = z.enum(['running', 'succeeded', 'failed']);

const RunSummarySchema = z.object({
  id: z.string(),
  pipeline: z.string(),
  kind: z.enum(['detection', 'training']),
  from: z.string().describe('first logical date'),
  to: z.string().describe('last logical date'),
  status: RunStatusSchema,
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  seconds: z.number().nullable(),
  rowsRead: z.number().nullable(),
  rowsQuarantined: z.number().nullable(),
  anomalies: z.number().nullable(),
  error: z.string().nullable(),
  rerunOf: z.string().nullable(),
});

const StepSchema = z.object({
  step: z.string(),
  partition: z.string(),
  status: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped']),
  attempts: z.number(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  seconds: z.number().nullable(),
  worker: z.string().nullable(),
  error: z.string().nullable(),
});

const RunDetailSchema = z.object({
  run: RunSummarySchema.extend({ params: z.record(z.string(), z.unknown()).describe('the pipeline and dataset as configured when it started, detour version, model versions') }),
  steps: z.array(StepSchema),
  inputs: z.record(z.string(), z.array(z.object({ key: z.string(), size: z.number(), sha256: z.string() }))).describe('per date, the files read and their sha256'),
});

const RunCursorSchema = z.object({ startedAtMs: z.number(), id: RunIdSchema });

const ListRunsQuerySchema = z.object({
  pipeline: NameSchema.optional(),
  status: RunStatusSchema.optional(),
  from: IsoDateSchema.optional().describe('runs whose dates reach this date or later'),
  to: IsoDateSchema.optional().describe('runs whose dates start on this date or earlier'),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().optional().describe('nextCursor of the previous page'),
});

const StartRunSchema = z
  .object({
    pipeline: NameSchema,
    date: IsoDateSchema.optional().describe('one logical date'),
    from: IsoDateSchema.optional().describe('or a range, one run over it'),
    to: IsoDateSchema.optional(),
  })
  .strict();

const BackfillSchema = z
  .object({
    pipeline: NameSchema,
    from: IsoDateSchema,
    to: IsoDateSchema,
    parallel: z.number().int().min(1).max(16).default(1).describe('runs at once'),
  })
  .strict();

const BackfillAcceptedSchema = z.object({
  pipeline: z.string(),
  dates: z.array(z.string()).describe('the dates a run starts for, oldest first, one after another'),
  skipped: z.array(z.string()).describe('dates a succeeded run already covers'),
});

/** Most dates one backfill may cover. */
const MAX_BACKFILL_DAYS = 366;

const AcceptedSchema = z.object({ id: z.string(), pipeline: z.string(), from: z.string(), to: z.string(), status: RunStatusSchema, rerunOf: z.string().nullable() });
const RunPathSchema = z.object({ id: RunIdSchema });

const iso = (date: Date | null) => date?.toISOString() ?? null;

function summaryOf(run: RunRecord): z.infer<typeof RunSummarySchema> {
  const rerunOf = run.params.rerun_of;
  return {
    id: run.id,
    pipeline: run.pipeline,
    kind: run.params.training === undefined ? 'detection' : 'training',
    from: run.logicalDate,
    to: run.endDate,
    status: run.status,
    startedAt: run.startedAt.toISOString(),
    finishedAt: iso(run.finishedAt),
    seconds: run.finishedAt === null ? null : (run.finishedAt.getTime() - run.startedAt.getTime()) / 1000,
    rowsRead: run.rowsRead,
    rowsQuarantined: run.rowsQuarantined,
    anomalies: run.outliers,
    error: run.error,
    rerunOf: typeof rerunOf === 'string' ? rerunOf : null,
  };
}

function accepted(run: RunRecord): z.infer<typeof AcceptedSchema> {
  const { id, pipeline, from, to, status, rerunOf } = summaryOf(run);
  return { id, pipeline, from, to, status, rerunOf };
}

export function runsRoutes(api: Api, { app, runs }: ApiContext): void {
  api.get(
    '/v1/runs',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['runs'],
        summary: 'runs, newest first, a page at a time',
        security: BEARER,
        querystring: ListRunsQuerySchema,
        response: { 200: z.object({ runs: z.array(RunSummarySchema), nextCursor: z.string().nullable() }), ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request) => {
      const { pipeline, status, from, to, limit, cursor } = request.query;
      const after = cursor === undefined ? undefined : decodeCursor(cursor, RunCursorSchema);
      const page = await app.store.listRuns({ pipeline, status, from, to, limit: limit + 1, after: after && { startedAt: new Date(after.startedAtMs), id: after.id } });
      const last = page.length > limit ? page[limit - 1] : undefined;
      return {
        runs: page.slice(0, limit).map(summaryOf),
        nextCursor: last === undefined ? null : encodeCursor({ startedAtMs: last.startedAt.getTime(), id: last.id }),
      };
    },
  );

  api.get(
    '/v1/runs/:id',
    {
      config: { scope: 'read' },
      schema: {
        tags: ['runs'],
        summary: 'one run (id or unique prefix): its params, steps with timings and attempts, and the inputs it read',
        security: BEARER,
        params: RunPathSchema,
        response: { 200: RunDetailSchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request) => {
      const run = await app.store.getRun(request.params.id);
      const steps = await app.store.listSteps(run.id);
      return {
        run: { ...summaryOf(run), params: run.params },
        steps: steps.map((step) => ({ step: step.step, partition: step.partition, status: step.status, attempts: step.attempts, startedAt: iso(step.startedAt), finishedAt: iso(step.finishedAt), seconds: step.seconds, worker: step.worker, error: step.error })),
        inputs: recordedInputs(steps),
      };
    },
  );

  api.post(
    '/v1/runs',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['runs'],
        summary: 'start a run of a pipeline over a date or a range; it goes on the queue and this answers at once',
        security: BEARER,
        body: StartRunSchema,
        response: { 202: AcceptedSchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const { pipeline, date, from, to } = request.body;
      if ((date === undefined) === (from === undefined && to === undefined)) throw new InputError('give either date or from and to');
      const [first, last] = date === undefined ? [from, to] : [date, date];
      if (first === undefined || last === undefined) throw new InputError('a range needs both from and to');
      if (first > last) throw new InputError(`from ${first} is after to ${last}`);
      const params = runParamsOf(app.config, pipeline);
      const run = await runs.submit((services) => submitRun(services, pipeline, params, dateRange(first, last)));
      return reply.code(202).header('location', `/v1/runs/${run.id}`).send(accepted(run));
    },
  );

  api.post(
    '/v1/backfills',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['runs'],
        summary: 'one run per date of a range that no succeeded run covers yet, as `detour backfill` does; the runs start in the background and this answers at once',
        security: BEARER,
        body: BackfillSchema,
        response: { 202: BackfillAcceptedSchema, ...errorResponses(400, 401, 403, 429) },
      },
    },
    async (request, reply) => {
      const { pipeline, from, to, parallel } = request.body;
      if (from > to) throw new InputError(`from ${from} is after to ${to}`);
      const dates = dateRange(from, to);
      if (dates.length > MAX_BACKFILL_DAYS) throw new InputError(`at most ${MAX_BACKFILL_DAYS} days per backfill, ${from}..${to} has ${dates.length}`);
      const params = runParamsOf(app.config, pipeline);
      const done = new Set(await app.store.succeededDates(pipeline, from, to));
      runs.start(`backfill ${pipeline} ${from}..${to}`, (services) => backfill(services, pipeline, params, from, to, { parallel }));
      return reply.code(202).send({ pipeline, dates: dates.filter((date) => !done.has(date)), skipped: dates.filter((date) => done.has(date)) });
    },
  );

  api.post(
    '/v1/runs/:id/resume',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['runs'],
        summary: 'resume a failed run from its failed step',
        security: BEARER,
        params: RunPathSchema,
        response: { 202: AcceptedSchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      const run = await runs.submit((services) => submitResume(services, request.params.id));
      return reply.code(202).header('location', `/v1/runs/${run.id}`).send(accepted(run));
    },
  );

  api.post(
    '/v1/runs/:id/rerun',
    {
      config: { scope: 'admin' },
      schema: {
        tags: ['runs'],
        summary: 'a new run with the recorded params against the same inputs (refused if they changed, unless allowChangedInputs)',
        security: BEARER,
        params: RunPathSchema,
        body: z.object({ allowChangedInputs: z.boolean().default(false) }).strict().nullish(),
        response: { 202: AcceptedSchema, ...errorResponses(400, 401, 403, 404, 429) },
      },
    },
    async (request, reply) => {
      const allowChangedInputs = request.body?.allowChangedInputs ?? false;
      const run = await runs.submit((services) => submitRerun(services, request.params.id, { allowChangedInputs }));
      return reply.code(202).header('location', `/v1/runs/${run.id}`).send(accepted(run));
    },
  );
}
