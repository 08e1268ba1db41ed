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

export const DetourConfigSchema = z
  .object({
    /** Lake URL: a folder (`file://./lake`, `./lake`) or `s3://bucket/prefix`. */
    lake: z.string().min(1).default('file://./lake'),
    /** Folder for embedded state (PGlite database). */
    stateDir: z.string().min(1).default('./.detour'),
    /** PostgreSQL URL for the run store and results; DATABASE_URL overrides it; unset = embedded PGlite. */
    databaseUrl: z.string().min(1).optional(),
    pipelines: z
      .object({
        rides: RidesPipelineSchema.prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type RideColumns = z.infer<typeof RideColumnsSchema>;
export type ExpectationConfig = z.infer<typeof ExpectationSchema>;
export type DbscanParams = z.infer<typeof DbscanParamsSchema>;
export type RidesPipelineConfig = z.infer<typeof RidesPipelineSchema>;
export type DetourConfig = z.infer<typeof DetourConfigSchema>;
