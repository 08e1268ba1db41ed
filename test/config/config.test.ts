import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, DetourConfigSchema, loadConfig, parseConfigText, writeDefaultConfig } from '../../src/config/index.js';
import { InputError } from '../../src/errors.js';

describe('config', () => {
  it('falls back to built-in defaults when there is no detour.yaml', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-config-'));
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded.file).toBeUndefined();
    expect(loaded.config.lake).toBe('file://./lake');
    expect(loaded.config.stateDir).toBe('./.detour');
    expect(loaded.config.pipelines.rides).toMatchObject({
      dataset: 'rides',
      aggregate: [],
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
          eps: 0.3,
          minSamples: 10,
          scale: 'standard',
          standalone: false,
        },
        {
          detector: 'conditional',
          distance: { column: 'ride_dist_km', unit: 'km', label: 'ride distance' },
          duration: { column: 'ride_time_min', unit: 'min', label: 'ride time' },
          start: 'pickup_ts',
          entity: 'taxi_id',
          history: 0,
          sigmas: 5,
          distanceSigmas: 4,
          minSupport: 50,
          maxSpeedKmh: 150,
          standalone: true,
        },
        { detector: 'pattern', entity: 'taxi_id', start: 'pickup_ts', end: 'dropoff_ts', minRepeats: 5, falseAlarms: 0.01, backToBackMinutes: 1, standalone: true },
      ],
      publish: { table: 'ride_anomalies', summary: 'ride_clusters' },
      schedule: { cron: '0 2 * * *', timezone: 'UTC', catchup: true, lagDays: 1 },
      retry: { retries: 2, initialDelayMs: 1000, maxDelayMs: 60000, timeoutSeconds: 3600 },
    });
    expect(loaded.config.datasets.rides).toMatchObject({
      key: 'ride_id',
      columns: { dropoff_ts: { type: 'timestamp', notBefore: 'pickup_ts' }, ride_dist_km: { type: 'number', min: 0 }, injected_kind: { type: 'string', required: false } },
      expectations: [
        { type: 'row_count_between', min: 1, severity: 'fail' },
        { type: 'mean_between', column: 'ride_time_min', min: 2, max: 90, severity: 'warn' },
        { type: 'between', column: 'ride_dist_km', max: 1000, severity: 'warn' },
      ],
    });
  });

  it('reads detour.yaml, keeps defaults for what it omits, and lets DATABASE_URL win', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-config-'));
    await writeFile(
      path.join(cwd, 'detour.yaml'),
      [
        'lake: s3://bucket/lake',
        'databaseUrl: postgres://a@b/c',
        'queue: { url: "redis://a:6379", lockSeconds: 5 }',
        'pipelines:',
        '  rides:',
        '    dataset: rides',
        '    detect:',
        '      - { detector: dbscan, table: rides, id: ride_id, features: [ride_dist_km, ride_time_min], eps: 0.5 }',
        '    schedule: { cron: "30 1 * * *", timezone: Europe/Berlin }',
        '    retry: { retries: 4, steps: { detect: { timeoutSeconds: 7200 } } }',
        '',
      ].join('\n'),
    );
    const loaded = await loadConfig({ cwd, env: { DATABASE_URL: 'postgres://x@y/z', QUEUE_URL: 'redis://q:6380' } });
    expect(loaded.file).toBe(path.join(cwd, 'detour.yaml'));
    expect(loaded.baseDir).toBe(cwd);
    expect(loaded.config.lake).toBe('s3://bucket/lake');
    expect(loaded.config.databaseUrl).toBe('postgres://x@y/z');
    expect(loaded.config.queue).toEqual({ url: 'redis://q:6380', prefix: 'detour', lockSeconds: 5 });
    expect(loaded.config.pipelines.rides.detect[0]).toMatchObject({ eps: 0.5, minSamples: 10, features: [{ column: 'ride_dist_km', label: 'ride_dist_km', unit: '' }, { column: 'ride_time_min' }] });
    expect(loaded.config.pipelines.rides.schedule).toEqual({ cron: '30 1 * * *', timezone: 'Europe/Berlin', catchup: true, lagDays: 1 });
    expect(loaded.config.pipelines.rides.retry).toEqual({ retries: 4, initialDelayMs: 1000, maxDelayMs: 60000, timeoutSeconds: 3600, steps: { detect: { timeoutSeconds: 7200 } } });
    expect(loaded.config.datasets.rides.key).toBe('ride_id');
  });

  it('fills in the defaults of ride detectors given their columns alone', () => {
    const config = parseConfigText(
      [
        'pipelines:',
        '  trips:',
        '    dataset: rides',
        '    detect:',
        '      - { detector: conditional, table: rides, id: ride_id, distance: { column: miles, unit: mi }, duration: { column: seconds, unit: s }, start: pickup_ts }',
        '      - { detector: pattern, table: rides, id: ride_id, entity: taxi_id, distance: miles, duration: minutes, start: pickup_ts }',
        '',
      ].join('\n'),
      'my.yaml',
    );
    // What every record detector gets by default.
    const record = { table: 'rides', id: 'ride_id', records: 'rows', standalone: true, start: 'pickup_ts' };
    expect(config.pipelines.trips.detect).toEqual([
      {
        ...record,
        detector: 'conditional',
        distance: { column: 'miles', unit: 'mi', label: 'distance' },
        duration: { column: 'seconds', unit: 's', label: 'time' },
        history: 0,
        sigmas: 5,
        distanceSigmas: 4,
        minSupport: 50,
        maxSpeedKmh: 150,
      },
      {
        ...record,
        detector: 'pattern',
        // A bare column is in km and minutes.
        distance: { column: 'miles', unit: 'km', label: 'distance' },
        duration: { column: 'minutes', unit: 'min', label: 'time' },
        entity: 'taxi_id',
        repeatTolerance: { relative: 0.01, distance: 0.01, duration: 0.1 },
        minRepeats: 5,
        falseAlarms: 0.01,
        backToBackMinutes: 1,
        maxFleetOverlapShare: 0.05,
      },
    ]);
  });

  it('fails on an explicit --config file that does not exist', async () => {
    await expect(loadConfig({ file: '/nonexistent/detour.yaml', env: {} })).rejects.toThrow(/cannot read config \/nonexistent\/detour.yaml: ENOENT/);
  });

  it.each([
    ['a wrong type', 'lake: ./lake\npipelines:\n  rides:\n    dataset: rides\n    detect:\n      - detector: dbscan\n        table: rides\n        id: ride_id\n        features: [ride_dist_km]\n        eps: abc\n', 'my.yaml:10: pipelines.rides.detect.0.eps: Invalid input: expected number, received string'],
    ['an out-of-range value', 'pipelines:\n  rides:\n    dataset: rides\n    detect:\n      - detector: dbscan\n        table: rides\n        id: ride_id\n        features: [ride_dist_km]\n        minSamples: 0\n', 'my.yaml:9: pipelines.rides.detect.0.minSamples:'],
    ['an unknown top-level key', 'lake: ./lake\nlakes: ./other\n', 'my.yaml:2: lakes: Unrecognized key'],
    ['a misspelt nested key', 'pipelines:\n  rides:\n    dataset: rides\n    schedule:\n      cronn: 1\n    detect: [{ detector: dbscan, table: rides, id: ride_id, features: [a] }]\n', 'my.yaml:5: pipelines.rides.schedule.cronn: Unrecognized key'],
    ['a bad enum', 'pipelines:\n  rides:\n    dataset: rides\n    detect:\n      - detector: dbscan\n        table: rides\n        id: ride_id\n        features: [ride_dist_km]\n        scale: minmax\n', 'my.yaml:9: pipelines.rides.detect.0.scale:'],
    ['a notBefore that is not a timestamp', 'datasets:\n  rides:\n    columns:\n      a: { type: number }\n      b: { type: timestamp, notBefore: a }\n', 'my.yaml:5: datasets.rides.columns.b.notBefore: "a" is not a timestamp column of rides'],
    ['a max delay below the initial one', 'pipelines:\n  flights:\n    dataset: flights\n    detect: [{ detector: iforest, table: t, entity: e, time: d, features: [x] }]\n    retry:\n      initialDelayMs: 5000\n      maxDelayMs: 100\n', 'my.yaml:7: pipelines.flights.retry.maxDelayMs: maxDelayMs must be at least initialDelayMs'],
    ['broken YAML', 'lake: [a,\n', 'my.yaml:'],
    [
      'a record detector that never publishes alone',
      'pipelines:\n  rides:\n    dataset: rides\n    detect:\n      - { detector: conditional, table: rides, id: ride_id, distance: ride_dist_km, duration: ride_time_min, start: pickup_ts, standalone: false }\n',
      'my.yaml:5: pipelines.rides.detect.0.standalone: standalone: false needs a record detector in the pipeline that publishes on its own',
    ],
    ['a distance unit detour does not know', 'pipelines:\n  rides:\n    dataset: rides\n    detect:\n      - detector: pattern\n        table: rides\n        id: ride_id\n        entity: taxi_id\n        distance: { column: d, unit: furlong }\n        duration: t\n        start: s\n', 'my.yaml:9: pipelines.rides.detect.0.distance'],
    ['a support column without its minimum', 'pipelines:\n  flights:\n    dataset: flights\n    aggregate: [{ name: t, sql: "SELECT 1" }]\n    detect:\n      - { detector: arima, table: t, entity: e, time: d, value: v, support: n }\n', 'my.yaml:6: pipelines.flights.detect.0.minSupport: give support and minSupport together'],
  ])('names the line and field for %s', (_, text, expected) => {
    let caught: unknown;
    try {
      parseConfigText(text, 'my.yaml');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as Error).message).toContain(expected);
    expect((caught as Error).message).not.toContain('\n');
  });

  it('init writes an editable detour.yaml that loads back to the defaults, and will not overwrite it', async () => {
    const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-init-'));
    const { configFile, schemaFile } = await writeDefaultConfig(cwd);
    const text = await readFile(configFile, 'utf8');
    expect(text).toMatch(/^# yaml-language-server: \$schema=\.\/detour\.schema\.json/);
    expect(text).toContain('minSamples: 10');
    const loaded = await loadConfig({ cwd, env: {} });
    expect(loaded.file).toBe(configFile);
    expect(loaded.config).toEqual(DetourConfigSchema.parse({}));
    expect(JSON.parse(await readFile(schemaFile, 'utf8'))).toHaveProperty('properties.pipelines');
    await expect(writeDefaultConfig(cwd)).rejects.toThrow(/already exists; pass --force/);
    await expect(writeDefaultConfig(cwd, { force: true })).resolves.toBeDefined();
  });

  describe('training steps', () => {
    const pipeline = (train: string, detect = '      - { detector: iforest, table: lateness, entity: route, time: day, features: [late] }') => `datasets:
  departures:
    columns:
      route: { type: string }
      late: { type: number }
pipelines:
  bus:
    dataset: departures
    aggregate: [{ name: lateness, sql: "SELECT 1" }]
    detect:
${detect}
    train:
${train}
`;
    const trainStep = '      - { model: bus_iforest, detector: iforest, table: lateness, entity: route, time: day, features: [late] }';

    it('fills in defaults, and a detect step with model: names its training step or finds the only one', () => {
      const config = parseConfigText(pipeline(`${trainStep}
      - { model: bus_weekly, detector: iforest, table: departures, entity: route, time: day, value: late, schedule: { cron: "0 3 * * 0" }, promote: auto, params: { trees: 50 } }`, '      - { detector: iforest, table: lateness, entity: route, time: day, features: [late], model: production, modelName: bus_iforest }'), 'my.yaml');
      expect(config.pipelines.bus.train[0]).toEqual({ model: 'bus_iforest', detector: 'iforest', table: 'lateness', entity: 'route', time: 'day', features: ['late'], ranges: {}, history: 90, minRows: 14, validation: 0.2, partitions: 1, params: {}, promote: 'manual' });
      expect(config.pipelines.bus.train[1]).toMatchObject({ value: 'late', promote: 'auto', params: { trees: 50 }, schedule: { cron: '0 3 * * 0', timezone: 'UTC', catchup: true, lagDays: 1 } });
      expect(config.pipelines.bus.detect[0]).toMatchObject({ model: 'production', modelName: 'bus_iforest' });
      expect(parseConfigText(pipeline(trainStep, '      - { detector: iforest, table: lateness, entity: route, time: day, features: [late], model: 3 }'), 'my.yaml').pipelines.bus.detect[0]).toMatchObject({ model: 3 });
    });

    it.each([
      ['both features and value', '      - { model: m, detector: iforest, table: lateness, entity: route, time: day, features: [late], value: late }', undefined, 'my.yaml:13: pipelines.bus.train.0.features: give either features or value'],
      ['an unknown table', '      - { model: m, detector: iforest, table: nope, entity: route, time: day, value: late }', undefined, 'my.yaml:13: pipelines.bus.train.0.table: no dataset or aggregate step named "nope" (tables: departures, lateness)'],
      ['a model name used twice', `${trainStep}
${trainStep}`, undefined, 'pipelines.bus.train.1.model: model "bus_iforest" is already trained by pipelines.bus.train.0'],
      ['model: without a training step', '      []', '      - { detector: iforest, table: lateness, entity: route, time: day, features: [late], model: production }', 'pipelines.bus.detect.0.model: no training step of this pipeline trains iforest models'],
      ['model: on other features', trainStep, '      - { detector: iforest, table: lateness, entity: route, time: day, features: [late, route], model: production }', 'pipelines.bus.detect.0.features: model "bus_iforest" is trained on late: score with the same features in the same order'],
      ['an unknown modelName', trainStep, '      - { detector: iforest, table: lateness, entity: route, time: day, features: [late], model: production, modelName: nope }', 'pipelines.bus.detect.0.modelName: no training step trains model "nope" (models: bus_iforest)'],
      ['an autoencoder without model:', '      []', '      - { detector: autoencoder, table: departures, entity: route, time: day, value: late }', 'pipelines.bus.detect.0.model: Invalid input'],
      ['an autoencoder trained on two features', '      - { model: m, detector: autoencoder, table: departures, entity: route, time: day, features: [late, route] }', undefined, 'pipelines.bus.train.0.features: the autoencoder models one series: give `value`'],
      ['an autoencoder scoring another value', '      - { model: m, detector: autoencoder, table: departures, entity: route, time: day, value: late }', '      - { detector: autoencoder, table: departures, entity: route, time: day, value: route, model: production }', 'pipelines.bus.detect.0.value: model "m" is trained on late: score with the same value'],
      ['an autoencoder reading no table of the pipeline', '      - { model: m, detector: autoencoder, table: departures, entity: route, time: day, value: late }', '      - { detector: autoencoder, table: nope, entity: route, time: day, value: late, model: production }', 'pipelines.bus.detect.0.table: no dataset or aggregate step named "nope" (tables: departures, lateness)'],
    ])('names the line and field for %s', (_, train, detect, expected) => {
      expect(() => parseConfigText(pipeline(train, detect), 'my.yaml')).toThrow(expected);
    });
  });

  describe('joins, triggers and the bus', () => {
    const withJoin = (join: string, aggregate = 'rides_by_city') => `
pipelines:
  daily:
    dataset: fleet_rides
    join: ${join}
    aggregate: [{ name: ${aggregate}, sql: "SELECT 1" }]
`;

    it('joins the same date unless a window says otherwise; the built-in fleet runs when rides land; BUS_URL wins', async () => {
      const config = parseConfigText(withJoin('[{ dataset: weather }, { dataset: rides, window: { before: 6 } }]'), 'my.yaml');
      expect(config.pipelines.daily.join).toEqual([
        { dataset: 'weather', window: { before: 0, after: 0 } },
        { dataset: 'rides', window: { before: 6, after: 0 } },
      ]);
      expect(config.pipelines.daily.trigger).toBe('schedule');
      expect(config.pipelines.fleet).toMatchObject({ dataset: 'fleet_rides', trigger: 'landed', join: [{ dataset: 'weather' }], predict: { model: 'fleet_service' } });
      expect(config.bus).toEqual({ stream: 'DETOUR', subjectPrefix: 'detour', ackWaitSeconds: 30, maxDeliveries: 10, retryDelaySeconds: 60, duplicateWindowSeconds: 600, storageEvents: false });
      const cwd = await mkdtemp(path.join(os.tmpdir(), 'detour-config-'));
      expect((await loadConfig({ cwd, env: { BUS_URL: 'nats://n:4222' } })).config.bus.url).toBe('nats://n:4222');
    });

    it.each([
      ['an unknown dataset', '[{ dataset: nope }]', undefined, 'pipelines.daily.join.0.dataset: no dataset "nope"'],
      ['its own dataset', '[{ dataset: fleet_rides }]', undefined, 'pipelines.daily.join.0.dataset: "fleet_rides" is the pipeline\'s own dataset'],
      ['a dataset named like an aggregate step', '[{ dataset: weather }]', 'weather', 'pipelines.daily.join.0.dataset: "weather" is also an aggregate step\'s name'],
      ['a dataset joined twice', '[{ dataset: weather }, { dataset: weather }]', undefined, 'pipelines.daily.join.1.dataset: "weather" is joined twice'],
      ['a negative window', '[{ dataset: weather, window: { before: -1 } }]', undefined, 'pipelines.daily.join.0.window.before'],
    ])('refuses a join of %s, naming the field', (_, join, aggregate, expected) => {
      expect(() => parseConfigText(withJoin(join, aggregate), 'my.yaml')).toThrow(expected);
    });
  });

  describe('monitor', () => {
    const watched = (monitor: string, predict = 'predict: { model: fleet_service, table: fleet_rides, id: ride_id }') => `
pipelines:
  watched:
    dataset: fleet_rides
    ${predict}
    monitor: ${monitor}
`;

    it('watches the built-in fleet model with its rides\' own outcomes, PSI 0.2 by default', () => {
      const { monitor } = DetourConfigSchema.parse({}).pipelines.fleet;
      expect(monitor).toEqual({ actuals: { table: 'ride_features', id: 'ride_id', label: 'service_requested', lookbackDays: 7 }, drift: { psi: 0.2, windowDays: 28 }, alarms: { minRows: 100 } });
    });

    it.each([
      ['of ground truth without a predict step', '{ actuals: { table: fleet_rides, id: ride_id, label: service_requested } }', '', 'pipelines.watched.monitor.actuals: ground truth is joined to the predict step\'s predictions: give predict too'],
      ['of an unknown actuals table', '{ actuals: { table: outcomes, id: ride_id, label: ok } }', undefined, 'pipelines.watched.monitor.actuals.table: no dataset or aggregate step named "outcomes"'],
      ['with a PSI threshold of zero', '{ drift: { psi: 0 } }', undefined, 'pipelines.watched.monitor.drift.psi'],
      ['mailing through an http URL', '{ alarms: { email: { smtp: "http://mail", from: a@b.c, to: [d@e.f] } } }', undefined, 'pipelines.watched.monitor.alarms.email.smtp'],
      ['with an unknown alarm setting', '{ alarms: { minAcu: 0.6 } }', undefined, 'minAcu'],
    ])('refuses a monitor %s, naming the field', (_, monitor, predict, expected) => {
      expect(() => parseConfigText(watched(monitor, predict), 'my.yaml')).toThrow(expected);
    });
  });

  it('builds in the traffic pipeline: an autoencoder per sensor trained weekly, daily detection with production, the shallow model without one', () => {
    const { pipelines, datasets } = DetourConfigSchema.parse({});
    expect(datasets.traffic.columns).toMatchObject({ sensor_id: { type: 'string' }, ts: { type: 'timestamp' }, bytes: { type: 'number', min: 0 } });
    expect(pipelines.traffic.detect).toEqual([
      { detector: 'autoencoder', table: 'traffic', entity: 'sensor_id', time: 'ts', value: 'bytes', model: 'production', fallback: 'shallow', evaluate: { flag: 'is_injected_anomaly', kind: 'injected_kind' } },
    ]);
    expect(pipelines.traffic.train).toEqual([
      expect.objectContaining({ model: 'traffic_autoencoder', detector: 'autoencoder', value: 'bytes', history: 28, promote: 'auto', schedule: { cron: '0 3 * * 1', timezone: 'UTC', catchup: true, lagDays: 1 } }),
    ]);
    expect(pipelines.traffic.schedule.cron).toBe('0 2 * * *');
  });

  it('exports a JSON Schema for editors', () => {
    const schema = configJsonSchema() as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['lake', 'stateDir', 'databaseUrl', 'pipelines']));
  });
});
