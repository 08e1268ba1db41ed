import { z } from 'zod';
import { DEFAULT_OUTAGE_WAIT_MS } from '../outage.js';
import { DEFAULT_ENV, envNameProblem } from './env-name.js';

const identifier = z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be lower_snake_case');

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
    /** The only numbers allowed, e.g. `[0, 1]` for an outcome label: others are quarantined. */
    values: z.array(z.number()).min(1).optional(),
    /** Timestamps before this other timestamp column are quarantined (a dropoff before its pickup). */
    notBefore: identifier.optional(),
  })
  .strict()
  .refine((column) => column.values === undefined || column.type === 'number', { message: 'values are for number columns', path: ['values'] });

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

/**
 * Another dataset's silver, read by a pipeline's SQL steps as a table named like that dataset
 * (`rides JOIN weather ON ...`): for each date of the run, its partitions from `window.before`
 * days before to `window.after` days after (the same date by default). Every one of them must
 * have been cleaned: a missing one fails the step, naming the dataset and the date.
 */
export const JoinSchema = z
  .object({
    dataset: identifier,
    window: z
      .object({ before: z.number().int().min(0).max(366).default(0), after: z.number().int().min(0).max(366).default(0) })
      .strict()
      .prefault({}),
  })
  .strict();

/** A feature of a record detector, with the words its explanations use ("ride time 94 min"). */
const FeatureSchema = z.union([
  z.string().min(1).transform((column) => ({ column, label: column, unit: '', noun: column })),
  z
    .object({
      column: z.string().min(1),
      /** e.g. `ride time` */
      label: z.string().min(1).optional(),
      /** e.g. `min` */
      unit: z.string().default(''),
      /** What "similar" rows share when this feature is the condition, e.g. `duration`. */
      noun: z.string().min(1).optional(),
    })
    .strict()
    .transform((feature) => ({ column: feature.column, label: feature.label ?? feature.column, unit: feature.unit, noun: feature.noun ?? feature.label ?? feature.column })),
]);

const seriesDetector = {
  /** Table to read: an aggregate step's name (its gold partitions give the history). */
  table: identifier,
  /** Column naming the entity (airport, route, taxi); one series per entity. */
  entity: z.string().min(1),
  /** Date column of each row (one row per entity and day). */
  time: z.string().min(1),
  /** Days of history before the first processed date that models learn from. */
  history: z.number().int().min(0).default(365),
  /**
   * Column counting the records behind each value (e.g. `flights` behind an average delay): days
   * with fewer than `minSupport` are neither learnt from nor flagged, and explanations say how
   * many records stand behind a value ("avg_delay 95.0 over 23 flights").
   */
  support: z.string().min(1).optional(),
  minSupport: z.number().int().min(1).optional(),
};

/** What every record detector shares: a day of one table, a record id, labels to evaluate against. */
const recordDetector = {
  /** The dataset itself or an aggregate step; read one day at a time, one finding per flagged record. */
  table: identifier,
  /** Column identifying a record; the published anomaly id. */
  id: z.string().min(1),
  /** Plural noun for records in explanations ("rides of similar distance"). */
  records: z.string().min(1).default('rows'),
  /** Labelled rows (sample data): precision and recall of the flagged rows per kind are reported in the summary. */
  evaluate: z.object({ flag: z.string().min(1), kind: z.string().min(1).optional() }).strict().optional(),
  /**
   * false: a record this step flags is published only when another record detector of the
   * pipeline flags it too, which then lists this step's reason beside its own.
   */
  standalone: z.boolean().default(true),
};

const labelled = <Unit extends string>(units: readonly [Unit, ...Unit[]], unit: Unit, label: string) =>
  z.union([
    z.string().min(1).transform((column) => ({ column, unit, label })),
    z
      .object({ column: z.string().min(1), unit: z.enum(units).default(unit), label: z.string().min(1).default(label) })
      .strict(),
  ]);
/** A ride's distance column (km or mi) and its words in explanations. */
const DistanceSchema = labelled(['km', 'mi'], 'km', 'distance');
/** A ride's duration column (min, s or h) and its words in explanations. */
const DurationSchema = labelled(['min', 's', 'h'], 'min', 'time');

/** What a ride detector reads beside the record detector's table and id. */
const rideColumns = {
  distance: DistanceSchema,
  duration: DurationSchema,
  /** Pickup timestamp: hour of day, day of week, order of a vehicle's trips. */
  start: z.string().min(1),
};

/**
 * Score with registered models instead of fitting one in the run: each entity's `production`
 * version, or that version number. A run records the versions it used; its rerun uses them again.
 */
const modelVersion = z.union([z.literal('production'), z.number().int().min(1)]);
/** The training step (its `model`) whose models to score with; default: the pipeline's only training step of the detector. */
const modelName = identifier.optional();

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
      /**
       * Season length in days of the daily series: the order search adds seasonal terms at this lag
       * (a seasonal difference for a strong cycle, a seasonal AR or MA term when it lowers the AIC);
       * 0 turns them off. Default 7, a weekly cycle.
       */
      period: z.union([z.literal(0), z.number().int().min(2).max(168)]).default(7),
      /**
       * Entity shards the step is split into so that several workers share it (each entity in exactly
       * one; models are per entity, so results do not depend on it). Isolation Forest fits one model
       * over all entities and cannot be split.
       */
      partitions: z.number().int().min(1).max(256).default(1),
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
      model: modelVersion.optional(),
      modelName,
    })
    .strict(),
  z
    .object({
      detector: z.literal('autoencoder'),
      /** The dataset itself or an aggregate step: one series per entity, e.g. a sensor's bytes per minute. */
      table: identifier,
      entity: column,
      /** Each row's time: the network takes its time of day and week. */
      time: column,
      value: column,
      model: modelVersion,
      modelName,
      /** An entity without that model: `shallow` scores it with rb-aioutliers' shallow model (needs no training); `skip` leaves it out, the summary says why. */
      fallback: z.enum(['shallow', 'skip']).default('skip'),
      /** Labelled rows (sample data): per incident kind (runs of labelled rows), how many had a flagged row, and the share of normal rows flagged, in the summary. */
      evaluate: z.object({ flag: column, kind: column.optional() }).strict().optional(),
    })
    .strict(),
  z
    .object({
      /**
       * Streaming seasonal robust z-scores for minute-to-hour series: one pass per day, each entity's
       * state checkpointed in the lake per date, so a run continues from the day before and a rerun
       * of a date from the same checkpoint.
       */
      detector: z.literal('stream'),
      /** The dataset itself or an aggregate step: one series per entity, e.g. a sensor's bytes per minute. */
      table: identifier,
      entity: column,
      time: column,
      value: column,
      /** The detector's options (threshold, clip, calmPoints, warmupPoints, repeatChance, tailShare, tailMargin, shiftSigmas, shiftPoints; see README): the defaults hold across series. */
      params: z.record(z.string(), z.unknown()).default({}),
      /** Days before a date searched for the newest checkpoint (days without data leave none); beyond, an entity starts afresh. */
      lookbackDays: z.number().int().min(1).max(366).default(7),
      /** Entity shards the step is split into, each scored by its own job. */
      partitions: z.number().int().min(1).max(256).default(1),
      /** Labelled rows (sample data): per incident kind, how many had a flagged row, in the summary. */
      evaluate: z.object({ flag: column, kind: column.optional() }).strict().optional(),
    })
    .strict(),
  z
    .object({
      detector: z.literal('dbscan'),
      ...recordDetector,
      /** Column naming the record's entity (taxi, vehicle), published with it. */
      entity: z.string().min(1).optional(),
      features: z.array(FeatureSchema).min(1).max(4),
      eps: z.number().positive().default(0.3),
      minSamples: z.number().int().min(1).default(10),
      scale: z.enum(['standard', 'none']).default('standard'),
    })
    .strict(),
  z
    .object({
      /** Ride time given distance and hour of day (day of week with 14+ days of history): too long, too short, too fast, too far. */
      detector: z.literal('conditional'),
      ...recordDetector,
      ...rideColumns,
      /** The vehicle: each counts once per distance class when learning what is usual. */
      entity: z.string().min(1).optional(),
      /** Days before the date learnt from with it (its own day only: 0); 13 or more adds day-of-week terms. */
      history: z.number().int().min(0).max(90).default(0),
      /** Robust sigmas of log ride time (from quartiles) beyond which a ride is too long or too short for its distance and hour. */
      sigmas: z.number().positive().default(5),
      /** Robust sigmas of log distance above the fleet's median beyond which a ride goes farther than the fleet does. */
      distanceSigmas: z.number().positive().default(4),
      /** Vehicles a distance-and-hour cell needs before its band is trusted (sparser cells pool neighbours). */
      minSupport: z.number().int().min(1).default(50),
      /** A ride faster than this on average is impossible. */
      maxSpeedKmh: z.number().positive().default(150),
    })
    .strict(),
  z
    .object({
      /** Per-vehicle patterns: near-identical values repeated far more than the fleet would, back-to-back and overlapping trips. */
      detector: z.literal('pattern'),
      ...recordDetector,
      ...rideColumns,
      /** The vehicle whose trips are compared with the fleet's. */
      entity: z.string().min(1),
      /** Dropoff timestamp; default: start + duration. */
      end: z.string().min(1).optional(),
      /** Values this close are near-identical: within `relative` of each other, or within the data's resolution. */
      repeatTolerance: z
        .object({ relative: z.number().positive().max(0.5).default(0.01), distance: z.number().min(0).default(0.01), duration: z.number().min(0).default(0.1) })
        .strict()
        .prefault({}),
      /** Fewest repeats (or back-to-back trips) that can make a pattern. */
      minRepeats: z.number().int().min(2).default(5),
      /** Expected false alarms per day over every vehicle and test (the significance level, shared out). */
      falseAlarms: z.number().positive().max(1).default(0.01),
      /** A trip starting within this many minutes of the vehicle's previous dropoff is back to back. */
      backToBackMinutes: z.number().min(0).default(1),
      /** Above this share of overlapping trips in the whole fleet, ids are not one car at a time and overlaps are not tested. */
      maxFleetOverlapShare: z.number().min(0).max(1).default(0.05),
    })
    .strict(),
]);

/** Record detectors: one day of a table at a time, one finding per flagged record. */
const RECORD_DETECTORS: readonly string[] = ['dbscan', 'conditional', 'pattern'];

/** Where a pipeline publishes and whom it alerts. */
export const PublishSchema = z
  .object({
    /** Results table and `gold/<table>/date=D/anomalies.json`; default `<pipeline>_anomalies`. */
    table: z.string().regex(/^[a-z][a-z0-9_]{0,50}_anomalies$/, 'must be lower_snake_case and end in _anomalies').optional(),
    /** `gold/<summary>/date=D/summary.json`; default `<pipeline>_summary`. */
    summary: identifier.optional(),
    /** Slack-compatible webhook called when a run fails, or finds more anomalies than `anomalyThreshold`. */
    webhook: z.url({ protocol: /^https?$/ }).optional(),
    anomalyThreshold: z.number().int().min(0).optional(),
    /**
     * Each run's anomalies and predictions, one message per finding, and its state changes on the
     * event bus (`bus.url`): `<subjectPrefix>.<env>.<pipeline>.anomalies`, `….predictions`,
     * `<subjectPrefix>.<env>.runs`.
     */
    bus: z
      .object({
        enabled: z.boolean().default(false),
        subjectPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens of letters, digits, - and _').default('detour'),
      })
      .strict()
      .optional(),
  })
  .strict();

/** When a pipeline runs under `detour serve`: each tick processes the logical date `lagDays` before it. */
export const ScheduleSchema = z
  .object({
    cron: z.string().min(1).default('0 2 * * *'),
    timezone: z.string().min(1).default('UTC'),
    /** After downtime, run every missed date (true) or only the latest (false). */
    catchup: z.boolean().default(true),
    lagDays: z.number().int().min(0).default(1),
  })
  .strict();

/** Bounds a feature's values must keep (both inclusive): rows outside are not learnt from, and a model refuses to score them. */
export const FeatureRangeSchema = z
  .object({ min: z.number().optional(), max: z.number().optional() })
  .strict()
  .refine((range) => range.min !== undefined || range.max !== undefined, 'give min, max or both')
  .refine((range) => range.min === undefined || range.max === undefined || range.min <= range.max, 'min must not exceed max');

/**
 * A training step: fits one model per entity from `history` days of a table (or, with `label`, one
 * supervised model over all its rows), registers it as a new version of `<model>/<entity>` (or
 * `<model>`) and promotes it as `promote` says. Runs on its own `schedule` or with `detour train`;
 * detect steps score with per-entity models through `model: production`, a predict step with a
 * supervised one.
 */
export const TrainStepSchema = z
  .object({
    /** Registry name of the models: one per entity, `<model>/<entity>`, or the supervised model itself; versions 1, 2, ... */
    model: identifier,
    /** A trainable detector (iforest: one per entity) or a supervised model (logistic, gbdt: with `label`). */
    detector: identifier,
    /** The dataset itself or an aggregate step. */
    table: identifier,
    /** Column naming the entity: one model each. Not with `label`. */
    entity: column.optional(),
    /** A supervised model's outcome column: 0 or 1 per row (rows with other values are left out of training, counted with why). */
    label: column.optional(),
    /** Column ordering rows in time; its date picks the rows of the training window, the most recent validate. */
    time: column,
    /** Feature columns, or `value` for a detector of one series. */
    features: z.array(column).min(1).optional(),
    value: column.optional(),
    /** A supervised model's feature ranges (e.g. `temperature: { min: -60, max: 60 }`), stored with it: rows outside are not learnt from, nor scored. */
    ranges: z.record(column, FeatureRangeSchema).default({}),
    /** Days the models learn from, ending at the training run's date. */
    history: z.number().int().min(1).default(90),
    /** An entity (or a supervised model's table) with fewer rows in the window is skipped, with the reason in the run's summary. */
    minRows: z.number().int().min(2).default(14),
    /** Share of the most recent rows held out to measure the model (`validation_loss`). */
    validation: z.number().gt(0).max(0.5).default(0.2),
    /** Entity shards, so that several workers share the training (a supervised model is fitted at once: 1). */
    partitions: z.number().int().min(1).max(256).default(1),
    /** The detector's own parameters (iforest: trees, maxSamples, seed, contamination; autoencoder: see README; logistic: l2; gbdt: rounds, depth, learningRate, ...). */
    params: z.record(z.string(), z.unknown()).default({}),
    /** When `detour serve` trains; unset: only with `detour train`. */
    schedule: ScheduleSchema.optional(),
    /** `auto`: a new version becomes production when its validation_loss is not worse than production's (or there is none); `manual`: `detour models promote`. */
    promote: z.enum(['auto', 'manual']).default('manual'),
  })
  .strict()
  .refine((step) => (step.features === undefined) !== (step.value === undefined), { message: 'give either features or value', path: ['features'] })
  .refine((step) => (step.entity === undefined) !== (step.label === undefined), { message: 'give either entity (a model per entity) or label (one supervised model over all rows)', path: ['entity'] })
  .refine((step) => step.label === undefined || step.features !== undefined, { message: 'a supervised model (label) takes features, not value', path: ['value'] })
  .refine((step) => step.label === undefined || step.partitions === 1, { message: 'a supervised model is fitted on all rows at once: partitions must be 1', path: ['partitions'] })
  .refine((step) => Object.keys(step.ranges).every((feature) => step.features?.includes(feature)), { message: 'ranges may only name the step\'s features', path: ['ranges'] });

/**
 * The predict step: for each date of a run, the probability of each row of `table` under a
 * supervised model (its production version when the run starts, or version `version`), written to
 * `gold/<pipeline>_predictions/date=D/` and the `<pipeline>_predictions` table.
 */
export const PredictStepSchema = z
  .object({
    /** A supervised model some training step trains (its `model`). */
    model: identifier,
    /** The dataset itself or an aggregate step; it must have the model's feature columns. */
    table: identifier,
    /** Column identifying a row: the predictions' key. */
    id: column,
    /** `production` when the run starts, or a version number; a rerun uses the same version. */
    version: z.union([z.literal('production'), z.number().int().min(1)]).default('production'),
  })
  .strict();

/** Where a pipeline's ground truth comes from: rows of a table, keyed like its predictions, whose label is the outcome. */
export const ActualsSchema = z
  .object({
    /** The pipeline's dataset, one of its aggregate steps (a later partition's label column) or another dataset (actuals landed on their own). */
    table: identifier,
    /** Column holding the id a prediction was keyed by. */
    id: column,
    /** The outcome, 0 or 1; rows without one are not ground truth yet. */
    label: column,
    /** Actuals of a run's date are joined to the predictions of this many days before it too: ground truth may arrive late, in any order. */
    lookbackDays: z.number().int().min(0).max(366).default(7),
  })
  .strict();

/** An email sent for every alarm that fires or resolves, through an SMTP server (nodemailer). */
export const AlarmEmailSchema = z
  .object({
    /** `smtp://user:pass@host:587` or `smtps://...`. */
    smtp: z.url({ protocol: /^smtps?$/ }),
    from: z.string().min(3),
    to: z.array(z.string().min(3)).min(1),
    /** Retries of a message the server does not take (unreachable, 4xx), with exponential backoff; then it is logged and dropped. */
    retries: z.number().int().min(0).max(20).default(3),
    initialDelayMs: z.number().int().min(0).default(1_000),
    maxDelayMs: z.number().int().min(0).default(30_000),
    timeoutSeconds: z.number().positive().default(10),
  })
  .strict();

/**
 * Watching a pipeline in production (the monitor step, after publish): its predict step's
 * predictions joined with ground truth once it arrives and their drift from the model's training
 * data, its anomalies' flag rate and people's verdicts on them, and alarms.
 */
export const MonitorSchema = z
  .object({
    actuals: ActualsSchema.optional(),
    drift: z
      .object({
        /** PSI above this (of a feature or the score) is drift. */
        psi: z.number().positive().default(0.2),
        /** KS statistic above this is drift too; unset: PSI alone decides. */
        ks: z.number().gt(0).max(1).optional(),
        /** The features (and `score`, the model's output) whose drift fires the alarm; default all of them. Drift is measured and stored for all. */
        features: z.array(column).min(1).optional(),
        /** Days whose predictions are compared together with the reference, ending at each date (features that are constant within a day, like its weather, need as many days as the model learnt from). */
        windowDays: z.number().int().min(1).max(366).default(1),
      })
      .strict()
      .prefault({}),
    alarms: z
      .object({
        /** A day's ROC AUC below this (once `minRows` predictions have their ground truth) fires `performance`. */
        minAuc: z.number().min(0).max(1).optional(),
        /** A day's log loss above this fires `performance`. */
        maxLogLoss: z.number().positive().optional(),
        /** Predictions with ground truth a day needs before its performance is judged. */
        minRows: z.number().int().min(1).default(100),
        /** Fires `stale` when no run of the pipeline succeeded for this many hours (checked by `detour serve` every tick and by `detour monitor PIPELINE --check`; each run resolves it). */
        staleHours: z.number().positive().optional(),
        /** Fires `flag_rate` when a day's anomalies are none while the previous `days` usually had some, or more than `maxRatio` times their median. */
        flagRate: z
          .object({ days: z.number().int().min(3).max(90).default(14), maxRatio: z.number().gt(1).default(5) })
          .strict()
          .optional(),
        /** Slack-compatible webhook of the alarms; default the pipeline's `publish.webhook`. */
        webhook: z.url({ protocol: /^https?$/ }).optional(),
        email: AlarmEmailSchema.optional(),
      })
      .strict()
      .refine((alarms) => alarms.email === undefined || alarms.email.maxDelayMs >= alarms.email.initialDelayMs, { message: 'maxDelayMs must be at least initialDelayMs', path: ['email', 'maxDelayMs'] })
      .prefault({}),
  })
  .strict();

const retryFields = {
  retries: z.number().int().min(0).max(20),
  initialDelayMs: z.number().int().min(0),
  maxDelayMs: z.number().int().min(0),
  timeoutSeconds: z.number().positive(),
};

/**
 * How a failing step is retried: exponential backoff with jitter up to `maxDelayMs`, each attempt
 * bounded by `timeoutSeconds`; `steps` overrides any of them for one step (e.g. a longer detect).
 */
export const RetrySchema = z
  .object({
    retries: retryFields.retries.default(2),
    initialDelayMs: retryFields.initialDelayMs.default(1_000),
    maxDelayMs: retryFields.maxDelayMs.default(60_000),
    timeoutSeconds: retryFields.timeoutSeconds.default(3_600),
    steps: z.partialRecord(z.enum(['clean', 'quality', 'aggregate', 'detect', 'predict', 'publish', 'monitor', 'train']), z.object(retryFields).partial().strict()).default({}),
  })
  .strict()
  .refine((retry) => retry.maxDelayMs >= retry.initialDelayMs, { message: 'maxDelayMs must be at least initialDelayMs', path: ['maxDelayMs'] });

/**
 * A declarative pipeline: clean and check a dataset, aggregate it with SQL, detect per entity,
 * predict, publish. One without detect or predict steps cleans, checks and summarises its dataset
 * (a dataset other pipelines join, such as weather).
 */
export const TablePipelineSchema = z
  .object({
    dataset: identifier,
    /** Other datasets' silver its SQL steps read (see JoinSchema). */
    join: z.array(JoinSchema).default([]),
    aggregate: z.array(AggregateStepSchema).default([]),
    detect: z.array(DetectStepSchema).default([]),
    /** Models trained on their own schedules (see TrainStepSchema). */
    train: z.array(TrainStepSchema).default([]),
    /** Probabilities of a supervised model for each row (see PredictStepSchema). */
    predict: PredictStepSchema.optional(),
    publish: PublishSchema.prefault({}),
    /** Ground truth and drift of the predict step's model, flag rate and alarms (see MonitorSchema). */
    monitor: MonitorSchema.optional(),
    /**
     * What starts its runs under `detour serve`: its cron `schedule`, or `landed`: a run for a
     * partition as soon as a file lands in it (a `lake.landed` event on the bus), once per file.
     */
    trigger: z.enum(['schedule', 'landed']).default('schedule'),
    schedule: ScheduleSchema.prefault({}),
    retry: RetrySchema.prefault({}),
    /** Dates per clean/quality/aggregate job of a range run: bounds memory and spreads a backfill over workers. */
    chunkDays: z.number().int().min(1).max(366).default(31),
  })
  .strict();

/** Built in: the foundation's taxi rides (DBSCAN on ride distance and ride time, never speed). */
const BUILTIN_RIDES_DATASET = {
  format: 'auto',
  columns: {
    ride_id: { type: 'string' },
    taxi_id: { type: 'string' },
    pickup_ts: { type: 'timestamp' },
    dropoff_ts: { type: 'timestamp', notBefore: 'pickup_ts' },
    ride_dist_km: { type: 'number', min: 0 },
    ride_time_min: { type: 'number', min: 0 },
    // Labels of the sample data, absent in real data.
    is_injected_anomaly: { type: 'number', required: false },
    injected_kind: { type: 'string', required: false },
  },
  key: 'ride_id',
  expectations: [
    { type: 'row_count_between', min: 1, severity: 'fail' },
    { type: 'mean_between', column: 'ride_time_min', min: 2, max: 90, severity: 'warn' },
    { type: 'between', column: 'ride_dist_km', max: 1000, severity: 'warn' },
  ],
};
const RIDES_EVALUATION = { flag: 'is_injected_anomaly', kind: 'injected_kind' };
const RIDE_COLUMNS = {
  table: 'rides',
  id: 'ride_id',
  distance: { column: 'ride_dist_km', unit: 'km', label: 'ride distance' },
  duration: { column: 'ride_time_min', unit: 'min', label: 'ride time' },
  start: 'pickup_ts',
  records: 'rides',
  evaluate: RIDES_EVALUATION,
};
const BUILTIN_RIDES_PIPELINE = {
  dataset: 'rides',
  detect: [
    {
      detector: 'dbscan',
      table: 'rides',
      id: 'ride_id',
      entity: 'taxi_id',
      features: [
        { column: 'ride_dist_km', label: 'ride distance', unit: 'km', noun: 'distance' },
        { column: 'ride_time_min', label: 'ride time', unit: 'min', noun: 'duration' },
      ],
      records: 'rides',
      evaluate: RIDES_EVALUATION,
      // DBSCAN flags sparse tails (a 35 km ride at rush hour) alone; here it adds its view to what the other two find.
      standalone: false,
    },
    { detector: 'conditional', ...RIDE_COLUMNS, entity: 'taxi_id' },
    { detector: 'pattern', ...RIDE_COLUMNS, entity: 'taxi_id', end: 'dropoff_ts' },
  ],
  publish: { table: 'ride_anomalies', summary: 'ride_clusters' },
};

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
    // An average over a handful of flights swings with one late plane: such airport-days are left out.
    { detector: 'arima', table: 'flight_delays_by_origin', entity: 'origin', time: 'day', value: 'avg_delay', support: 'flights', minSupport: 20 },
    { detector: 'iforest', table: 'flight_delays_by_origin', entity: 'origin', time: 'day', features: ['avg_delay', 'flights'], support: 'flights', minSupport: 20 },
  ],
};

/** Built in: the real daily weather of New York and Seattle, 2012–2015 (npm package vega-datasets), which fleet rides join. */
const BUILTIN_WEATHER_DATASET = {
  format: 'auto',
  columns: {
    city: { type: 'string', from: 'location' },
    date: { type: 'timestamp' },
    precipitation: { type: 'number', min: 0 },
    temp_max: { type: 'number' },
    temp_min: { type: 'number' },
    wind: { type: 'number', min: 0, required: false },
    weather: { type: 'string', required: false },
  },
  expectations: [
    { type: 'row_count_between', min: 1, severity: 'fail' },
    { type: 'between', column: 'temp_max', min: -60, max: 60, severity: 'fail' },
  ],
};
const BUILTIN_WEATHER_PIPELINE = { dataset: 'weather', trigger: 'landed' };

/** Built in: New York rides whose vehicle may request service afterwards (`detour sample fleet`). */
const BUILTIN_FLEET_RIDES_DATASET = {
  format: 'auto',
  columns: {
    ride_id: { type: 'string' },
    vehicle_id: { type: 'string' },
    city: { type: 'string' },
    start_time: { type: 'timestamp' },
    end_time: { type: 'timestamp', notBefore: 'start_time' },
    distance_miles: { type: 'number', min: 0 },
    duration_min: { type: 'number', min: 0 },
    service_requested: { type: 'number', required: false, values: [0, 1] },
  },
  key: 'ride_id',
  expectations: [{ type: 'row_count_between', min: 1, severity: 'fail' }],
};
/**
 * Built in: landed rides → clean → the day's weather joined by city → features → a logistic
 * model of the service request, trained weekly on four weeks → each landed day's probabilities.
 */
const BUILTIN_FLEET_PIPELINE = {
  dataset: 'fleet_rides',
  trigger: 'landed',
  join: [{ dataset: 'weather' }],
  aggregate: [
    {
      name: 'ride_features',
      // A ride without its city's weather that day fails the step (error()), rather than dropping out of a join.
      sql: `SELECT r.ride_id, r.vehicle_id, r.start_time,
  CASE WHEN w.city IS NULL THEN error('no weather for ' || r.city || ' on ' || CAST(CAST(r.start_time AS DATE) AS VARCHAR)) ELSE w.temp_max END AS temperature,
  w.precipitation, r.distance_miles AS mileage, r.service_requested
FROM fleet_rides AS r LEFT JOIN weather AS w ON w.city = r.city AND CAST(w.date AS DATE) = CAST(r.start_time AS DATE)`,
    },
  ],
  train: [
    {
      model: 'fleet_service',
      detector: 'logistic',
      table: 'ride_features',
      label: 'service_requested',
      time: 'start_time',
      features: ['temperature', 'precipitation', 'mileage'],
      ranges: { temperature: { min: -60, max: 60 }, precipitation: { min: 0 }, mileage: { min: 0 } },
      history: 28,
      minRows: 500,
      promote: 'auto',
      schedule: { cron: '0 3 * * 1' },
    },
  ],
  predict: { model: 'fleet_service', table: 'ride_features', id: 'ride_id' },
  // A ride's own service_requested is its ground truth; the weather is one value a day, so drift compares four weeks, as the model learnt.
  monitor: { actuals: { table: 'ride_features', id: 'ride_id', label: 'service_requested' }, drift: { windowDays: 28 } },
};

/** Built in: per-minute network traffic of a fleet of sensors (`detour sample traffic`), rb-aioutliers' domain. */
const BUILTIN_TRAFFIC_DATASET = {
  format: 'auto',
  columns: {
    sensor_id: { type: 'string' },
    ts: { type: 'timestamp' },
    bytes: { type: 'number', min: 0 },
    packets: { type: 'number', min: 0, required: false },
    flows: { type: 'number', min: 0, required: false },
    // Labels of the sample data, absent in real data.
    is_injected_anomaly: { type: 'number', required: false },
    injected_kind: { type: 'string', required: false },
  },
  expectations: [{ type: 'row_count_between', min: 1, severity: 'fail' }],
};
/** One autoencoder per sensor, trained weekly on 4 weeks; daily detection with each sensor's production version, the shallow model for a sensor without one. */
const BUILTIN_TRAFFIC_PIPELINE = {
  dataset: 'traffic',
  detect: [
    {
      detector: 'autoencoder',
      table: 'traffic',
      entity: 'sensor_id',
      time: 'ts',
      value: 'bytes',
      model: 'production',
      fallback: 'shallow',
      evaluate: { flag: 'is_injected_anomaly', kind: 'injected_kind' },
    },
  ],
  train: [
    {
      model: 'traffic_autoencoder',
      detector: 'autoencoder',
      table: 'traffic',
      entity: 'sensor_id',
      time: 'ts',
      value: 'bytes',
      history: 28,
      partitions: 4,
      // Mondays, on the four weeks up to Sunday.
      schedule: { cron: '0 3 * * 1' },
      promote: 'auto',
    },
  ],
};

/** Who may call the HTTP API: a token, stored as its sha256, and what it may do. */
export const ApiTokenSchema = z
  .object({
    /** Who holds it, for people reading the config; never sent. */
    name: z.string().min(1),
    /** Hex sha256 of the token (`printf %s "$TOKEN" | sha256sum`): the config never holds the token itself. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the token\'s sha256 as 64 lowercase hex digits (printf %s "$TOKEN" | sha256sum)'),
    /** read: runs, anomalies, quality, models, metrics · detect: /v1/detect, /api/v1/outliers · admin: everything, starting runs and promoting models included. */
    scopes: z.array(z.enum(['read', 'detect', 'admin'])).min(1),
  })
  .strict();

/** The HTTP API of `detour serve`: tokens and the limits every request is held to. */
export const ApiSchema = z
  .object({
    /** Without any (here or in DETOUR_API_TOKENS), the API serves loopback only and asks for no token. */
    tokens: z.array(ApiTokenSchema).default([]),
    /** Largest request body; a larger one is refused with 413. */
    bodyLimitBytes: z.number().int().min(1024).default(5 * 1024 * 1024),
    /** Most points of a series (or records) one detection request may send. */
    maxPoints: z.number().int().min(2).default(100_000),
    /** Requests per token (per client address without tokens) in `windowSeconds`; beyond, 429 with Retry-After. */
    rateLimit: z
      .object({ max: z.number().int().min(1).default(6_000), windowSeconds: z.number().positive().default(60) })
      .strict()
      .prefault({}),
    /** A request still unanswered after this long gets 503 and its detection is stopped. */
    requestTimeoutSeconds: z.number().positive().default(30),
  })
  .strict();

/** The Druid broker `POST /api/v1/outliers` sends a `query` to (rb-aioutliers' `druid_endpoint`). */
export const DruidSchema = z
  .object({
    /** The broker's query endpoint, e.g. `http://broker:8082/druid/v2/`; unset: requests must carry `data`. */
    url: z.url({ protocol: /^https?$/ }).optional(),
    /** How long the broker may take to answer. */
    timeoutSeconds: z.number().positive().default(60),
  })
  .strict();

export const DetourConfigSchema = z
  .object({
    /**
     * The environment everything runs in (DETOUR_ENV and `--env` override it): `prod` keeps the lake's
     * keys, the database's tables, the queue and the bus subjects as they are; any other name has its
     * own (`envs/<env>/` in the lake, schema `detour_<env>`, queue prefix `<prefix>_<env>`, subjects
     * `<subjectPrefix>.<env>.…`).
     */
    env: z
      .string()
      .superRefine((name, context) => {
        const problem = envNameProblem(name);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
      })
      .default(DEFAULT_ENV),
    /** Lake URL: a folder (`file://./lake`, `./lake`) or `s3://bucket/prefix`. */
    lake: z.string().min(1).default('file://./lake'),
    /** Folder for embedded state (PGlite database). */
    stateDir: z.string().min(1).default('./.detour'),
    /** PostgreSQL URL for the run store and results; DATABASE_URL overrides it; unset = embedded PGlite. */
    databaseUrl: z.string().min(1).optional(),
    /** The step queue: in this process by default; on Redis (BullMQ) when a URL is set, for `detour worker` processes anywhere. */
    queue: z
      .object({
        /** `redis://host:6379`; QUEUE_URL overrides it. */
        url: z.string().min(1).optional(),
        /** Key prefix on Redis: deployments sharing a Redis stay apart. */
        prefix: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only').default('detour'),
        /** A worker that dies mid-step is noticed after about this long, and its step handed to another. */
        lockSeconds: z.number().positive().default(30),
      })
      .strict()
      .prefault({}),
    /**
     * The event bus (NATS JetStream): `detour ingest` publishes `lake.landed` for every partition
     * it lands, and `detour serve` runs the pipelines with `trigger: landed` for it. Unset: no events.
     */
    bus: z
      .object({
        /** `nats://host:4222`; BUS_URL overrides it. */
        url: z.string().min(1).optional(),
        /** The JetStream stream holding detour's subjects (created when missing). */
        stream: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, - and _ only').default('DETOUR'),
        /** Subjects are `<subjectPrefix>.lake.landed` and `<subjectPrefix>.storage.events`: deployments sharing a server stay apart. */
        subjectPrefix: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens of letters, digits, - and _').default('detour'),
        /** A message not acknowledged this long after delivery (its consumer died) is delivered again; a live consumer keeps extending it. */
        ackWaitSeconds: z.number().positive().default(30),
        /** Deliveries of one message at most; a run still failing then is left failed (resume it by hand). */
        maxDeliveries: z.number().int().min(1).default(10),
        /** How long a failed run's message waits before it is delivered again (its data may be incomplete: a joined partition not there yet). */
        retryDelaySeconds: z.number().min(0).default(60),
        /** A message published again with the same id within this window is dropped by the server. */
        duplicateWindowSeconds: z.number().positive().default(600),
        /** Also consume storage notifications (S3 event records, e.g. MinIO's NATS target) on `<subjectPrefix>.storage.events` and publish `lake.landed` for objects put in bronze. */
        storageEvents: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /**
     * How runs outlive a process or a service going away. A run and each running step hold a lease
     * their process renews every `heartbeatSeconds`; one not renewed for `leaseSeconds` (process
     * killed, machine gone, database lost) is failed by the next process using the run store, and
     * `detour runs resume` takes it up. PostgreSQL or Redis unreachable is waited for up to
     * `outageSeconds`, then the command fails (exit 1) saying what to do.
     */
    liveness: z
      .object({
        leaseSeconds: z.number().positive().default(30),
        heartbeatSeconds: z.number().positive().default(10),
        outageSeconds: z.number().min(0).default(DEFAULT_OUTAGE_WAIT_MS / 1000),
      })
      .strict()
      .refine((liveness) => liveness.heartbeatSeconds < liveness.leaseSeconds, { message: 'heartbeatSeconds must be shorter than leaseSeconds', path: ['heartbeatSeconds'] })
      .prefault({}),
    api: ApiSchema.prefault({}),
    druid: DruidSchema.prefault({}),
    datasets: z
      .object({
        rides: DatasetSchema.prefault(BUILTIN_RIDES_DATASET as z.input<typeof DatasetSchema>),
        flights: DatasetSchema.prefault(BUILTIN_FLIGHTS_DATASET as z.input<typeof DatasetSchema>),
        weather: DatasetSchema.prefault(BUILTIN_WEATHER_DATASET as z.input<typeof DatasetSchema>),
        fleet_rides: DatasetSchema.prefault(BUILTIN_FLEET_RIDES_DATASET as z.input<typeof DatasetSchema>),
        traffic: DatasetSchema.prefault(BUILTIN_TRAFFIC_DATASET as z.input<typeof DatasetSchema>),
      })
      .catchall(DatasetSchema)
      .prefault({}),
    pipelines: z
      .object({
        rides: TablePipelineSchema.prefault(BUILTIN_RIDES_PIPELINE as z.input<typeof TablePipelineSchema>),
        flights: TablePipelineSchema.prefault(BUILTIN_FLIGHTS_PIPELINE as z.input<typeof TablePipelineSchema>),
        traffic: TablePipelineSchema.prefault(BUILTIN_TRAFFIC_PIPELINE as z.input<typeof TablePipelineSchema>),
        weather: TablePipelineSchema.prefault(BUILTIN_WEATHER_PIPELINE as z.input<typeof TablePipelineSchema>),
        fleet: TablePipelineSchema.prefault(BUILTIN_FLEET_PIPELINE as z.input<typeof TablePipelineSchema>),
      })
      .catchall(TablePipelineSchema)
      .prefault({}),
  })
  .strict()
  .superRefine((config, context) => {
    /** Each model name belongs to one training step of the whole config: the registry is shared. */
    const modelOwners = new Map<string, string>();
    for (const [name, table] of Object.entries(config.pipelines)) {
      if (!/^[a-z][a-z0-9_]*$/.test(name)) context.addIssue({ code: 'custom', path: ['pipelines', name], message: 'pipeline names must be lower_snake_case' });
      if (!(table.dataset in config.datasets)) {
        context.addIssue({ code: 'custom', path: ['pipelines', name, 'dataset'], message: `no dataset "${table.dataset}" (datasets: ${Object.keys(config.datasets).join(', ')})` });
      }
      const aggregates = table.aggregate.map((step) => step.name);
      table.join.forEach((join, index) => {
        const path = ['pipelines', name, 'join', index, 'dataset'];
        // Its table is named like it, beside the pipeline's own dataset and its aggregate steps.
        const clash = join.dataset === table.dataset ? 'is the pipeline\'s own dataset' : aggregates.includes(join.dataset) ? 'is also an aggregate step\'s name' : table.join.findIndex((other) => other.dataset === join.dataset) < index ? 'is joined twice' : undefined;
        if (!(join.dataset in config.datasets)) context.addIssue({ code: 'custom', path, message: `no dataset "${join.dataset}" (datasets: ${Object.keys(config.datasets).join(', ')})` });
        else if (clash !== undefined) context.addIssue({ code: 'custom', path, message: `"${join.dataset}" ${clash}` });
      });
      table.detect.forEach((step, index) => {
        // ARIMA and Isolation Forest fitted in the run need an aggregate's daily history; the others may also read the dataset.
        const dailyHistory = step.detector === 'arima' || step.detector === 'iforest';
        const tables = dailyHistory ? aggregates : [table.dataset, ...aggregates];
        if (!tables.includes(step.table)) {
          context.addIssue({ code: 'custom', path: ['pipelines', name, 'detect', index, 'table'], message: `no ${dailyHistory ? '' : 'dataset or '}aggregate step named "${step.table}" (${dailyHistory ? 'aggregates' : 'tables'}: ${tables.join(', ') || 'none'})` });
        }
        if (isRecordStep(step) && !step.standalone && !table.detect.some((other) => isRecordStep(other) && other.standalone)) {
          context.addIssue({ code: 'custom', path: ['pipelines', name, 'detect', index, 'standalone'], message: 'standalone: false needs a record detector in the pipeline that publishes on its own' });
        }
        if (dailyHistory && (step.support === undefined) !== (step.minSupport === undefined)) {
          context.addIssue({ code: 'custom', path: ['pipelines', name, 'detect', index, step.support === undefined ? 'support' : 'minSupport'], message: 'give support and minSupport together' });
        }
      });
      table.train.forEach((step, index) => {
        const tables = [table.dataset, ...aggregates];
        if (!tables.includes(step.table)) context.addIssue({ code: 'custom', path: ['pipelines', name, 'train', index, 'table'], message: `no dataset or aggregate step named "${step.table}" (tables: ${tables.join(', ')})` });
        if (step.detector === 'autoencoder' && step.features !== undefined && step.features.length !== 1) {
          context.addIssue({ code: 'custom', path: ['pipelines', name, 'train', index, 'features'], message: 'the autoencoder models one series: give `value`' });
        }
        const owner = modelOwners.get(step.model);
        if (owner !== undefined) context.addIssue({ code: 'custom', path: ['pipelines', name, 'train', index, 'model'], message: `model "${step.model}" is already trained by ${owner}` });
        modelOwners.set(step.model, `pipelines.${name}.train.${index}`);
      });
      table.detect.forEach((step, index) => {
        if (!('model' in step) || step.model === undefined) return;
        const path = ['pipelines', name, 'detect', index];
        const trainer = trainStepFor(table, step);
        if (trainer === undefined) {
          const candidates = table.train.filter((train) => train.detector === step.detector).map((train) => train.model);
          const message = step.modelName !== undefined ? `no training step trains model "${step.modelName}" (models: ${table.train.map((train) => train.model).join(', ') || 'none'})` : candidates.length === 0 ? `no training step of this pipeline trains ${step.detector} models` : `several training steps train ${step.detector} models (${candidates.join(', ')}): name one as modelName`;
          context.addIssue({ code: 'custom', path: [...path, step.modelName !== undefined ? 'modelName' : 'model'], message });
          return;
        }
        if (trainer.detector !== step.detector) context.addIssue({ code: 'custom', path: [...path, 'modelName'], message: `model "${trainer.model}" is trained with ${trainer.detector}, not ${step.detector}` });
        if (trainer.entity !== step.entity) context.addIssue({ code: 'custom', path: [...path, 'entity'], message: `model "${trainer.model}" is trained per ${trainer.entity}, not per ${step.entity}` });
        if (JSON.stringify(trainer.features ?? [trainer.value]) !== JSON.stringify(scoredFeatures(step))) {
          const field = step.detector === 'autoencoder' ? 'value' : 'features';
          context.addIssue({ code: 'custom', path: [...path, field], message: `model "${trainer.model}" is trained on ${(trainer.features ?? [trainer.value]).join(', ')}: score with the same ${field === 'value' ? 'value' : 'features in the same order'}` });
        }
      });
      if (table.predict !== undefined) {
        const { predict } = table;
        const tables = [table.dataset, ...aggregates];
        if (!tables.includes(predict.table)) context.addIssue({ code: 'custom', path: ['pipelines', name, 'predict', 'table'], message: `no dataset or aggregate step named "${predict.table}" (tables: ${tables.join(', ')})` });
        const trainers = Object.values(config.pipelines).flatMap((pipeline) => pipeline.train);
        const trainer = trainers.find((train) => train.model === predict.model);
        if (trainer === undefined || trainer.label === undefined) {
          const supervised = trainers.filter((train) => train.label !== undefined).map((train) => train.model);
          const message = trainer === undefined ? `no training step trains model "${predict.model}"` : `model "${predict.model}" is trained per ${trainer.entity}, without a label: predict needs a supervised model`;
          context.addIssue({ code: 'custom', path: ['pipelines', name, 'predict', 'model'], message: `${message} (supervised models: ${supervised.join(', ') || 'none'})` });
        }
      }
      if (table.monitor !== undefined) {
        const path = ['pipelines', name, 'monitor'];
        const actuals = table.monitor.actuals;
        if (actuals !== undefined && table.predict === undefined) context.addIssue({ code: 'custom', path: [...path, 'actuals'], message: 'ground truth is joined to the predict step\'s predictions: give predict too' });
        if (actuals !== undefined && !aggregates.includes(actuals.table) && !(actuals.table in config.datasets)) {
          context.addIssue({ code: 'custom', path: [...path, 'actuals', 'table'], message: `no dataset or aggregate step named "${actuals.table}" (tables: ${[...Object.keys(config.datasets), ...aggregates].join(', ')})` });
        }
      }
      const dataset = config.datasets[table.dataset];
      for (const [column, spec] of Object.entries(dataset?.columns ?? {})) {
        if (spec.notBefore !== undefined && dataset.columns[spec.notBefore]?.type !== 'timestamp') {
          context.addIssue({ code: 'custom', path: ['datasets', table.dataset, 'columns', column, 'notBefore'], message: `"${spec.notBefore}" is not a timestamp column of ${table.dataset}` });
        }
      }
    }
  });

/** Whether a detect step is a record detector (one day of a table, a finding per record) rather than a series one. */
export function isRecordStep(step: DetectStepConfig): step is RecordStepConfig {
  return RECORD_DETECTORS.includes(step.detector);
}

/** The columns a detect step scoring with registered models hands them, in order. */
export function scoredFeatures(step: Extract<DetectStepConfig, { detector: 'iforest' | 'autoencoder' }>): string[] {
  return step.detector === 'autoencoder' ? [step.value] : step.features;
}

/** The training step whose models a detect step with `model:` scores with: its `modelName`, else the pipeline's only one of its detector. */
export function trainStepFor(pipeline: Pick<TablePipelineConfig, 'train'>, step: { detector: string; modelName?: string }): TrainStepConfig | undefined {
  if (step.modelName !== undefined) return pipeline.train.find((train) => train.model === step.modelName);
  const candidates = pipeline.train.filter((train) => train.detector === step.detector);
  return candidates.length === 1 ? candidates[0] : undefined;
}

export type ExpectationConfig = z.infer<typeof ExpectationSchema>;
export type TrainStepConfig = z.infer<typeof TrainStepSchema>;
export type PredictStepConfig = z.infer<typeof PredictStepSchema>;
export type MonitorConfig = z.infer<typeof MonitorSchema>;
export type AlarmEmailConfig = z.infer<typeof AlarmEmailSchema>;
export type ScheduleConfig = z.infer<typeof ScheduleSchema>;
export type RetryConfig = z.infer<typeof RetrySchema>;
export type DetourConfig = z.infer<typeof DetourConfigSchema>;
export type LivenessConfig = DetourConfig['liveness'];
export type BusConfig = DetourConfig['bus'];
export type JoinConfig = z.infer<typeof JoinSchema>;
export type ApiConfig = DetourConfig['api'];
export type ApiTokenConfig = z.infer<typeof ApiTokenSchema>;
export type DatasetConfig = z.infer<typeof DatasetSchema>;
export type TablePipelineConfig = z.infer<typeof TablePipelineSchema>;
export type DetectStepConfig = z.infer<typeof DetectStepSchema>;
export type RecordStepConfig = Extract<DetectStepConfig, { detector: 'dbscan' | 'conditional' | 'pattern' }>;
/** Series detectors over an aggregate's daily history, which may weigh days by a support column (the autoencoder scores a table's rows with registered models only). */
export type SeriesStepConfig = Extract<DetectStepConfig, { detector: 'arima' | 'iforest' }>;
/** The streaming detector's step: a day at a time per entity, continuing from checkpoints. */
export type StreamStepConfig = Extract<DetectStepConfig, { detector: 'stream' }>;
