// lstm models | promote | rollback: wiring of the model registry (libs/job-store).
import { Command, InvalidArgumentError } from 'commander';
import {
  formatFigure,
  listModelNames,
  modelSummary,
  promoteVersion,
  pruneVersions,
  readProductionAlias,
  rollbackProduction,
  type ModelSummary,
  type VersionSummary,
} from '@lstm-runner/job-store';
import type { ObjectStore } from '@lstm-runner/storage';
import {
  info,
  openCommandStore,
  positiveIntegerOption,
  rememberSecrets,
  UsageError,
  withStore,
  type ConnectionFlags,
} from '../cli-context';

type RegistryFlags = ConnectionFlags & { readonly json?: boolean };

async function withCommandStore<T>(flags: ConnectionFlags, use: (store: ObjectStore) => Promise<T>): Promise<T> {
  rememberSecrets(flags.store);
  const store = openCommandStore(flags);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** NAME@N -> [NAME, N]. */
function versionRef(text: string): [string, number] {
  const match = /^(.+)@(\d+)$/.exec(text);
  if (match === null || Number(match[2]) < 1) throw new InvalidArgumentError(`expected NAME@VERSION (e.g. sensors@3), got '${text}'`);
  return [match[1]!, Number(match[2])];
}

const figure = (value: number | null): string => (value === null ? '-' : formatFigure(value));

function versionLine(v: VersionSummary, production: number | null): string {
  const mark = v.version === production ? '*' : ' ';
  const figures = v.metric === null ? '' : `  ${v.metric} ${figure(v.value)} (production ${figure(v.baselineValue)})`;
  return `${mark} v${v.version}  ${v.createdAt}  job ${v.jobId}${figures}  ${v.promoted ? 'promoted' : 'NOT promoted'}: ${v.reason}\n`;
}

function printSummary(summary: ModelSummary): void {
  const production = summary.production === null ? 'no production version' : `production v${summary.production}`;
  process.stdout.write(`${summary.name}: ${production}, ${summary.versions.length} versions (* = production)\n`);
  for (const v of summary.versions) process.stdout.write(versionLine(v, summary.production));
}

async function listModels(store: ObjectStore, json: boolean): Promise<void> {
  const models = await Promise.all(
    (await listModelNames(store)).map(async (name) => ({ name, production: (await readProductionAlias(store, name))?.version ?? null })),
  );
  if (json) {
    printJson(models);
    return;
  }
  if (models.length === 0) info(`no models in ${store.url}`);
  for (const m of models) process.stdout.write(`${m.name}  ${m.production === null ? '-' : `v${m.production}`}\n`);
}

export function registryCommands(program: Command): void {
  withStore(program.command('models'))
    .description('the models with their production versions; with NAME, its versions and why each was (not) promoted')
    .usage('[NAME] [--json] | prune NAME --keep N')
    .argument('[name]', "a model name (or 'prune')")
    .argument('[pruned]', 'with prune: the model whose versions to prune')
    .option('--keep <n>', 'with prune: keep the last N versions and the production one', positiveIntegerOption)
    .option('--json', 'machine-readable output: {"name","production","versions":[...]}')
    .action(async (name: string | undefined, pruned: string | undefined, flags: RegistryFlags & { keep?: number }) => {
      await withCommandStore(flags, async (store) => {
        if (name === 'prune' && pruned !== undefined) {
          if (flags.keep === undefined) throw new UsageError('lstm models prune NAME needs --keep N');
          const result = await pruneVersions(store, pruned, flags.keep);
          if (flags.json === true) printJson(result);
          else
            info(
              `model ${pruned}: deleted versions [${result.deletedVersions.join(', ')}], ${result.deletedCheckpoints.length} checkpoints`,
            );
          return;
        }
        if (name === undefined) return listModels(store, flags.json === true);
        const summary = await modelSummary(store, name);
        if (flags.json === true) printJson(summary);
        else printSummary(summary);
      });
    });

  withStore(program.command('promote'))
    .description('make version N the production version of model NAME (by hand, whatever its gate said)')
    .argument('<ref>', 'NAME@N', versionRef)
    .action(async ([name, version]: [string, number], flags: ConnectionFlags) => {
      const alias = await withCommandStore(flags, (store) => promoteVersion(store, name, version));
      info(
        `model ${name}: production is v${alias.version} (was ${alias.history.length === 0 ? 'none' : `v${alias.history[alias.history.length - 1]}`})`,
      );
    });

  withStore(program.command('rollback'))
    .description('move the production version of model NAME back to the one it was before')
    .argument('<name>', 'model name')
    .action(async (name: string, flags: ConnectionFlags) => {
      const alias = await withCommandStore(flags, (store) => rollbackProduction(store, name));
      info(`model ${name}: production is v${alias.version} (${alias.reason})`);
    });
}
