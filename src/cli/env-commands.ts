import { Command } from 'commander';
import { createEnvironment, destroyEnvironment, listEnvironments, type Deployment } from '../app/index.js';
import { assertEnvName, DEFAULT_ENV } from '../config/index.js';
import { loadCliConfig, withCommonOptions, type CommonOptions } from './context.js';

/** The deployment a command works on, its whole lake closed afterwards. */
async function withDeployment<T>(options: CommonOptions, work: (deployment: Deployment) => Promise<T>): Promise<T> {
  const { config, deploymentLake, baseDir } = await loadCliConfig(options);
  try {
    return await work({ config, baseDir, lake: deploymentLake });
  } finally {
    await deploymentLake.close();
  }
}

export function envCommand(): Command {
  const env = new Command('env').description('isolated environments: each its own lake folder (envs/<env>/), PostgreSQL schema, queue prefix and bus subjects; run any command in one with --env NAME');
  env.addCommand(
    withCommonOptions(new Command('list'))
      .description('list the environments (prod, and every one with data)')
      .action(async (options: CommonOptions) => {
        await withDeployment(options, async (deployment) => {
          for (const name of await listEnvironments(deployment)) console.log(name);
        });
      }),
  );
  env.addCommand(
    withCommonOptions(new Command('create'))
      .description('create an environment: its schema (or embedded database), migrated; with --copy-models, the production models of --from')
      .argument('<name>', 'a lower_snake name')
      .option('--from <env>', 'the environment to copy models from', DEFAULT_ENV)
      .option('--copy-models', 'copy the production version of every model of --from, as production')
      .action(async (name: string, options: CommonOptions & { from: string; copyModels?: boolean }) => {
        const target = assertEnvName(name, 'environment name');
        const from = assertEnvName(options.from, '--from');
        await withDeployment(options, async (deployment) => {
          const created = await createEnvironment(deployment, target, options.copyModels ? { copyModelsFrom: from } : {});
          console.log(`created environment ${created.env} (${created.store})`);
          if (options.copyModels) console.log(`copied ${created.models.length} production model${created.models.length === 1 ? '' : 's'} from ${from}${created.models.length > 0 ? `: ${created.models.join(', ')}` : ''}`);
        });
      }),
  );
  env.addCommand(
    withCommonOptions(new Command('destroy'))
      .description('remove an environment: its lake keys, schema (or embedded database), queue and bus messages, nothing else')
      .argument('<name>', 'the environment')
      .option('--force', `needed to destroy ${DEFAULT_ENV}`)
      .action(async (name: string, options: CommonOptions & { force?: boolean }) => {
        const target = assertEnvName(name, 'environment name');
        await withDeployment(options, async (deployment) => {
          const destroyed = await destroyEnvironment(deployment, target, { force: options.force });
          const parts = [
            `${destroyed.lakeObjects} lake object${destroyed.lakeObjects === 1 ? '' : 's'}`,
            destroyed.store ?? 'no store',
            ...(destroyed.queue ? ['its queue'] : []),
            ...(destroyed.bus === undefined ? [] : [`${destroyed.bus.messages} bus messages and ${destroyed.bus.consumers} consumers`]),
          ];
          console.log(`destroyed environment ${destroyed.env}: ${parts.join(', ')}`);
        });
      }),
  );
  return env;
}
