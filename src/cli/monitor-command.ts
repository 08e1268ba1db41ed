import { Command } from 'commander';
import { addDays, assertIsoDate, isoDateOf } from '../dates.js';
import { InputError } from '../errors.js';
import { checkStaleness } from '../pipeline/index.js';
import { withCommonOptions, withContext, type CommonOptions } from './context.js';
import { monitorReportText } from './monitor-format.js';

export function monitorCommand(): Command {
  return withCommonOptions(new Command('monitor'))
    .description("a watched pipeline's model in production: performance against ground truth per day and version, drift, anomaly feedback and alarms (see `monitor:` in detour.yaml)")
    .argument('<pipeline>', 'pipeline name')
    .option('--from <YYYY-MM-DD>', 'first day (default: 13 days before --to)')
    .option('--to <YYYY-MM-DD>', 'last day (default: today, UTC)')
    .option('--check', 'also check the stale-data alarm now and send it if it changed (for a schedule, e.g. cron)')
    .option('--json', 'print the report as JSON')
    .action(async (pipeline: string, options: CommonOptions & { from?: string; to?: string; check?: boolean; json?: boolean }) => {
      const to = options.to === undefined ? isoDateOf(new Date()) : assertIsoDate(options.to, '--to');
      const from = options.from === undefined ? addDays(to, -13) : assertIsoDate(options.from, '--from');
      if (from > to) throw new InputError(`--from ${from} is after --to ${to}`);
      await withContext(options, async (context) => {
        const config = context.config.pipelines[pipeline];
        if (config === undefined) throw new InputError(`unknown pipeline "${pipeline}" (pipelines: ${Object.keys(context.config.pipelines).join(', ')})`);
        if (config.monitor === undefined) throw new InputError(`pipeline "${pipeline}" is not monitored: give it \`monitor:\` in detour.yaml`);
        if (options.check) await checkStaleness({ store: context.store, logger: context.logger }, pipeline, config, new Date());
        const [report, alarms] = await Promise.all([context.store.listMonitoring(pipeline, from, to), context.store.listAlarms(pipeline)]);
        console.log(options.json ? JSON.stringify({ pipeline, from, to, ...report, alarms }, null, 2) : monitorReportText(pipeline, from, to, report, alarms));
      });
    });
}
