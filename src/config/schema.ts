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
export type DbscanParams = z.infer<typeof DbscanParamsSchema>;
export type RidesPipelineConfig = z.infer<typeof RidesPipelineSchema>;
export type DetourConfig = z.infer<typeof DetourConfigSchema>;
