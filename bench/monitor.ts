/**
 * The monitor step on one day of 100k predictions whose ground truth is in (`bench/fleet.ts`'s
 * synthetic rides, their own `service_requested`): reading the day's predictions and actuals,
 * joining them by id, AUC, log loss, Brier and calibration, drift of each feature and the score
 * against the model's training reference, recording it all and evaluating the alarms. A pipeline
 * is trained on three days and run on the fourth first (not timed); the timed work is the monitor
 * step of that run's day, run again as a retry would. `seconds_by_step` is that first run's;
 * `cpu_seconds` the process's CPU time over the timed work (DuckDB's threads included), which a
 * busy machine inflates less than the wall time.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openApp } from '../src/app/index.js';
import { parseConfigText } from '../src/config/index.js';
import { dateRange } from '../src/dates.js';
import { FsLake } from '../src/lake/index.js';
import { paramsOf, runParamsOf, startRun, startTrainingRun, trainingParamsOf, type MonitoredDate, type RunResult } from '../src/pipeline/index.js';
import { monitorStep } from '../src/pipeline/steps/monitor.js';
import { openStore } from '../src/store/index.js';
import { landDay, PIPELINE_YAML, RIDES_PER_DAY } from './fleet.js';
import type { BenchCase } from './main.js';

const TRAINING_DAYS = dateRange('2024-04-08', '2024-04-10');
const MONITORED_DAY = '2024-04-11';
const MONITOR_YAML = `${PIPELINE_YAML}    monitor: { actuals: { table: rides, id: ride_id, label: service_requested } }\n`;

export const cases: readonly BenchCase[] = [
  {
    rows: RIDES_PER_DAY,
    label: 'monitor=day',
    prepare: async () => {
      const root = await mkdtemp(path.join(os.tmpdir(), 'detour-bench-monitor-'));
      const lake = new FsLake(path.join(root, 'lake'));
      for (const [index, date] of [...TRAINING_DAYS, MONITORED_DAY].entries()) await landDay(lake, date, 100 + index);
      const config = parseConfigText(MONITOR_YAML, 'bench.yaml');
      const store = await openStore({ stateDir: path.join(root, 'state') });
      const app = await openApp({ config, lake, store });
      const services = await app.services({ concurrency: 2 });
      await startRun(services, 'fleet_bench', runParamsOf(config, 'fleet_bench'), TRAINING_DAYS);
      await startTrainingRun(services, 'fleet_bench', trainingParamsOf(config, 'fleet_bench'), TRAINING_DAYS.at(-1) as string);
      const first: RunResult = await startRun(services, 'fleet_bench', runParamsOf(config, 'fleet_bench'), [MONITORED_DAY]);
      const run = await store.getRun(first.run.id);
      const seconds: Record<string, number> = {};
      for (const step of first.steps) seconds[step.step] = Number(((seconds[step.step] ?? 0) + (step.seconds ?? 0)).toFixed(3));
      return async () => {
        try {
          const cpuBefore = process.cpuUsage();
          const output = await monitorStep.run({ lake, store, run, params: paramsOf(run) }, { kind: 'dates', from: MONITORED_DAY, to: MONITORED_DAY });
          const cpu = process.cpuUsage(cpuBefore);
          return { day: output.dates[MONITORED_DAY], seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
        } finally {
          await app.close();
          await store.close();
        }
      };
    },
    report: (result) => {
      const { day, seconds, cpuSeconds } = result as { day: MonitoredDate; seconds: Record<string, number>; cpuSeconds: number };
      const [performance] = day.performance;
      return { cpu_seconds: Number(cpuSeconds.toFixed(3)), seconds_by_step: seconds, matched: performance?.matched ?? 0, auc: performance?.auc === null || performance === undefined ? null : Number(performance.auc.toFixed(4)), drift_rows: day.drift.length };
    },
  },
];
