import { z } from 'zod';

/** Which input columns hold each ride field; defaults match the sample data. */
export const RideColumnsSchema = z
  .object({
    rideId: z.string().min(1).default('ride_id'),
    taxiId: z.string().min(1).default('taxi_id'),
    pickupTs: z.string().min(1).default('pickup_ts'),
    dropoffTs: z.string().min(1).default('dropoff_ts'),
    rideDistKm: z.string().min(1).default('ride_dist_km'),
    rideTimeMin: z.string().min(1).default('ride_time_min'),
  })
  .strict();

export const DbscanParamsSchema = z
  .object({
    eps: z.number().positive().default(0.3),
    minSamples: z.number().int().min(1).default(10),
    scale: z.enum(['standard', 'none']).default('standard'),
  })
  .strict();

const severity = z.enum(['warn', 'fail']).default('fail');
const bounds = { min: z.number().optional(), max: z.number().optional() };
const column = z.string().min(1);

/** Data-quality expectations checked on the valid rows of each run (see src/quality). */
export const ExpectationSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('not_null'), column, severity }).strict(),
    z.object({ type: z.literal('between'), column, ...bounds, severity }).strict(),
    z.object({ type: z.literal('in_set'), column, values: z.array(z.union([z.string(), z.number()])).min(1), severity }).strict(),
    z.object({ type: z.literal('unique'), column, severity }).strict(),
    z.object({ type: z.literal('row_count_between'), ...bounds, severity }).strict(),
    z.object({ type: z.literal('freshness'), column, maxAgeHours: z.number().positive(), severity }).strict(),
    z.object({ type: z.literal('mean_between'), column, ...bounds, severity }).strict(),
  ])
  .refine((expectation) => !('min' in expectation) || expectation.min === undefined || expectation.max === undefined || expectation.min <= expectation.max, {
    message: 'min must not exceed max',
  });

/** Built-in checks on a day of rides: a day with no or few rides stops the run; odd averages warn. */
const DEFAULT_RIDE_EXPECTATIONS = [
  { type: 'row_count_between', min: 1, severity: 'fail' },
  { type: 'mean_between', column: 'ride_time_min', min: 2, max: 90, severity: 'warn' },
  { type: 'between', column: 'ride_dist_km', max: 1000, severity: 'warn' },
] as const;

export const RidesPipelineSchema = z
  .object({
    /** Dataset name: input is read from `bronze/<dataset>/date=D/`. */
    dataset: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'must be lower_snake_case')
      .default('rides'),
    /** Input format; `auto` picks by file extension. */
    format: z.enum(['auto', 'csv', 'parquet']).default('auto'),
    columns: RideColumnsSchema.prefault({}),
    dbscan: DbscanParamsSchema.prefault({}),
    /** Checked on the valid rows (input column names); a failed `fail` expectation stops the run before publishing. */
    expectations: z.array(ExpectationSchema).prefault([...DEFAULT_RIDE_EXPECTATIONS]),
  })
  .strict();

const identifier = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lower_snake_case');

/** One column of a dataset's typed schema. */
export const DatasetColumnSchema = z
  .object({
    type: z.enum(['string', 'number', 'timestamp']),
    /** Raw column name when it differs from this column's name. */
    from: z.string().min(1).optional(),
    /** A row missing this value is quarantined. */
    required: z.boolean().default(true),
    /** Numbers below this are quarantined. */
    min: z.number().optional(),
  })
  .strict();

/** A dataset: raw files in `bronze/<name>/date=D/`, typed and renamed into `silver/<name>/date=D/`. */
export const DatasetSchema = z
  .object({
    format: z.enum(['auto', 'csv', 'parquet', 'json']).default('auto'),
    columns: z.record(identifier, DatasetColumnSchema).refine((columns) => Object.keys(columns).length > 0, 'needs at least one column'),
    /** A column whose values must be unique within a day; later duplicates are quarantined. */
    key: identifier.optional(),
    expectations: z.array(ExpectationSchema).default([]),
  })
  .strict();

/** A SQL step over the cleaned dataset (a table named like the dataset), written to `gold/<name>/date=D/`. */
export const AggregateStepSchema = z.object({ name: identifier, sql: z.string().min(1) }).strict();

const seriesDetector = {
  /** Table to read: an aggregate step's name (its gold partitions give the history). */
  table: identifier,
  /** Column naming the entity (airport, route, taxi); one series per entity. */
  entity: z.string().min(1),
  /** Date column of each row (one row per entity and day). */
  time: z.string().min(1),
  /** Days of history before the first processed date that models learn from. */
  history: z.number().int().min(0).default(365),
};

export const DetectStepSchema = z.discriminatedUnion('detector', [
  z
    .object({
      detector: z.literal('arima'),
      ...seriesDetector,
      value: z.string().min(1),
      maxP: z.number().int().min(0).max(10).default(5),
      maxQ: z.number().int().min(0).max(10).default(5),
      order: z.tuple([z.number().int().min(0), z.number().int().min(0).max(2), z.number().int().min(0)]).optional(),
      intervalSigmas: z.number().positive().default(3),
      minHistory: z.number().int().min(3).default(30),
    })
    .strict(),
  z
    .object({
      detector: z.literal('iforest'),
      ...seriesDetector,
      features: z.array(z.string().min(1)).min(1),
      trees: z.number().int().min(1).default(100),
      maxSamples: z.number().int().min(2).default(256),
      seed: z.number().int().min(0).default(0),
      contamination: z.union([z.literal('auto'), z.number().gt(0).max(0.5)]).default(0.01),
    })
    .strict(),
]);

/** A declarative pipeline: clean and check a dataset, aggregate it with SQL, detect per entity, publish. */
export const TablePipelineSchema = z
  .object({
    dataset: identifier,
    aggregate: z.array(AggregateStepSchema).default([]),
    detect: z.array(DetectStepSchema).min(1),
  })
  .strict();

/** Built in: the flight-delay lake of the Airflow reference (bronze flights → delay per airport and day → IF + ARIMA). */
const BUILTIN_FLIGHTS_DATASET = {
  format: 'auto',
  columns: {
    date: { type: 'timestamp' },
    delay: { type: 'number' },
    distance: { type: 'number', required: false, min: 0 },
    origin: { type: 'string' },
    destination: { type: 'string', required: false },
  },
  expectations: [
    { type: 'row_count_between', min: 100, severity: 'fail' },
    { type: 'not_null', column: 'origin', severity: 'fail' },
    { type: 'between', column: 'delay', min: -180, max: 2000, severity: 'warn' },
    { type: 'mean_between', column: 'delay', min: -30, max: 180, severity: 'warn' },
  ],
};
const BUILTIN_FLIGHTS_PIPELINE = {
  dataset: 'flights',
  aggregate: [
    {
      name: 'flight_delays_by_origin',
      sql: 'SELECT origin, CAST(date AS DATE) AS day, avg(delay) AS avg_delay, count(*) AS flights FROM flights GROUP BY ALL',
    },
  ],
  detect: [
    { detector: 'arima', table: 'flight_delays_by_origin', entity: 'origin', time: 'day', value: 'avg_delay' },
    { detector: 'iforest', table: 'flight_delays_by_origin', entity: 'origin', time: 'day', features: ['avg_delay', 'flights'] },
  ],
};

export const DetourConfigSchema = z
  .object({
    /** Lake URL: a folder (`file://./lake`, `./lake`) or `s3://bucket/prefix`. */
    lake: z.string().min(1).default('file://./lake'),
    /** Folder for embedded state (PGlite database). */
    stateDir: z.string().min(1).default('./.detour'),
    /** PostgreSQL URL for the run store and results; DATABASE_URL overrides it; unset = embedded PGlite. */
    databaseUrl: z.string().min(1).optional(),
    datasets: z
      .object({ flights: DatasetSchema.prefault(BUILTIN_FLIGHTS_DATASET as z.input<typeof DatasetSchema>) })
      .catchall(DatasetSchema)
      .prefault({}),
    pipelines: z
      .object({
        rides: RidesPipelineSchema.prefault({}),
        flights: TablePipelineSchema.prefault(BUILTIN_FLIGHTS_PIPELINE as z.input<typeof TablePipelineSchema>),
      })
      .catchall(TablePipelineSchema)
      .prefault({}),
  })
  .strict()
  .superRefine((config, context) => {
    for (const [name, pipeline] of Object.entries(config.pipelines)) {
      if (name === 'rides') continue;
      const table = pipeline as z.infer<typeof TablePipelineSchema>;
      if (!/^[a-z][a-z0-9_]*$/.test(name)) context.addIssue({ code: 'custom', path: ['pipelines', name], message: 'pipeline names must be lower_snake_case' });
      if (!(table.dataset in config.datasets)) {
        context.addIssue({ code: 'custom', path: ['pipelines', name, 'dataset'], message: `no dataset "${table.dataset}" (datasets: ${Object.keys(config.datasets).join(', ')})` });
      }
      const aggregates = table.aggregate.map((step) => step.name);
      table.detect.forEach((step, index) => {
        if (!aggregates.includes(step.table)) {
          context.addIssue({ code: 'custom', path: ['pipelines', name, 'detect', index, 'table'], message: `no aggregate step named "${step.table}" (aggregates: ${aggregates.join(', ') || 'none'})` });
        }
      });
    }
  });

export type RideColumns = z.infer<typeof RideColumnsSchema>;
export type ExpectationConfig = z.infer<typeof ExpectationSchema>;
export type DbscanParams = z.infer<typeof DbscanParamsSchema>;
export type RidesPipelineConfig = z.infer<typeof RidesPipelineSchema>;
export type DetourConfig = z.infer<typeof DetourConfigSchema>;
export type DatasetConfig = z.infer<typeof DatasetSchema>;
export type TablePipelineConfig = z.infer<typeof TablePipelineSchema>;
export type DetectStepConfig = z.infer<typeof DetectStepSchema>;
