import { Command, Option } from 'commander';
import { assertIsoDate, isoDateOf, addDays } from '../dates.js';
import { InputError } from '../errors.js';
import { findModelVersion, parseModelRef, promoteModelVersion, rollbackModel, startTrainingRun, supervisedFactsOf, trainingParamsOf } from '../pipeline/index.js';
import { withCommonOptions, withContext, withStepProgress, type CommonOptions } from './context.js';
import { modelDetails, modelDiff, modelListTable, printTrainingResult } from './model-format.js';
import { stepParallelOption, wholeNumber } from './options.js';

/** `--entity A --entity B,C`: every value, in order. */
const collect = (value: string, previous: string[]) => [...previous, ...value.split(',').map((item) => item.trim()).filter(Boolean)];

export function trainCommand(): Command {
  return withCommonOptions(new Command('train'))
    .description("train the pipeline's models (one per entity, or one supervised model, see `train:` in detour.yaml) on the days up to --date, register them as new versions and promote as configured")
    .argument('<pipeline>', 'pipeline name')
    .option('--date <YYYY-MM-DD>', 'last day of the training window (default: yesterday, UTC)')
    .option('--model <name>', 'only this training step (its model name); repeatable', collect, [] as string[])
    .option('--entity <value>', 'only this entity; repeatable', collect, [] as string[])
    .addOption(stepParallelOption())
    .action(async (pipeline: string, options: CommonOptions & { date?: string; model: string[]; entity: string[]; parallel: number }) => {
      const date = options.date === undefined ? addDays(isoDateOf(new Date()), -1) : assertIsoDate(options.date, '--date');
      await withContext(options, async (context) => {
        const params = trainingParamsOf(context.config, pipeline, { models: options.model.length > 0 ? options.model : undefined, entities: options.entity });
        const result = await withStepProgress(context, options.parallel, (services) => startTrainingRun(services, pipeline, params, date));
        printTrainingResult(context, result);
      });
    });
}

const version = (what: string) => wholeNumber(what, 1);

export function modelsCommand(): Command {
  const models = new Command('models').description('the model registry: versions per entity, their metrics and training inputs, promotion and rollback');
  models.addCommand(
    withCommonOptions(new Command('list'))
      .description('list registered versions (the default)')
      .option('--name <name>', 'a model (bus_iforest) or one entity’s model (bus_iforest/B3)')
      .addOption(new Option('--stage <stage>', 'only versions at this stage').choices(['candidate', 'production', 'archived']))
      .action(async (options: CommonOptions & { name?: string; stage?: 'candidate' | 'production' | 'archived' }) => {
        await withContext(options, async (context) => {
          const versions = await context.store.listModels({ name: options.name, stage: options.stage });
          console.log(versions.length === 0 ? `no models${options.name ? ` named ${options.name}` : ''} yet` : modelListTable(versions));
        });
      }),
    { isDefault: true },
  );
  models.addCommand(
    withCommonOptions(new Command('show'))
      .description('one version (default: production, else the latest): metrics, params, training inputs and stage history')
      .argument('<name[@version]>', 'e.g. bus_iforest/B3 or bus_iforest/B3@2')
      .action(async (ref: string, options: CommonOptions) => {
        const { name, version: wanted } = parseModelRef(ref);
        await withContext(options, async (context) => {
          const model = await findModelVersion(context.store, name, wanted);
          console.log(modelDetails(model, await context.store.listModelStages(name), await supervisedFactsOf(context.lake, model)));
        });
      }),
  );
  models.addCommand(
    withCommonOptions(new Command('promote'))
      .description('make a version production (its artifact is checked first; production stays as it is if it does not load)')
      .argument('<name>', 'e.g. bus_iforest/B3')
      .argument('<version>', 'version number', version('VERSION'))
      .action(async (name: string, target: number, options: CommonOptions) => {
        await withContext(options, async (context) => {
          const result = await promoteModelVersion(context.store, context.lake, context.config.pipelines, name, target);
          console.log(result.unchanged ? `${name} v${target} is production already` : `${name} v${target} is production${result.replaced === null ? '' : ` (was v${result.replaced})`}`);
        });
      }),
  );
  models.addCommand(
    withCommonOptions(new Command('rollback'))
      .description('put back the production version the current one replaced')
      .argument('<name>', 'e.g. bus_iforest/B3')
      .action(async (name: string, options: CommonOptions) => {
        await withContext(options, async (context) => {
          const result = await rollbackModel(context.store, context.lake, name);
          console.log(`${name} v${result.production.version} is production again (rolled back from v${result.replaced})`);
        });
      }),
  );
  models.addCommand(
    withCommonOptions(new Command('diff'))
      .description('params and metrics of two versions side by side')
      .argument('<name>', 'e.g. bus_iforest/B3')
      .argument('<v1>', 'version number', version('V1'))
      .argument('<v2>', 'version number', version('V2'))
      .action(async (name: string, first: number, second: number, options: CommonOptions) => {
        if (first === second) throw new InputError('give two different versions');
        await withContext(options, async (context) => {
          console.log(modelDiff(await findModelVersion(context.store, name, first), await findModelVersion(context.store, name, second)));
        });
      }),
  );
  return models;
}
