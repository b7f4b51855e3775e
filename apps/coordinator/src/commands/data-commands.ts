// lstm summary | prepare: what a spec will train, and its dataset packed into the store.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { formatParameterSummary, summarizeParameters } from '@lstm-runner/lstm-core';
import { prepareDataset, summarizeDataset } from '@lstm-runner/data';
import { loadJobSpec } from '@lstm-runner/protocol';
import { modelSpecOf, openDataSource } from '@lstm-runner/runner';
import { info, openCommandStore, rememberSecrets, withStore, type ConnectionFlags } from '../cli-context';

async function prepareFor(specPath: string, flags: ConnectionFlags) {
  rememberSecrets(flags.store);
  const spec = await loadJobSpec(resolve(specPath));
  const store = openCommandStore(flags);
  try {
    const prepared = await prepareDataset({ store, data: spec.data, source: await openDataSource(spec.data.source, flags.s3Endpoint) });
    return { spec, prepared, storeUrl: store.url };
  } finally {
    await store.close();
  }
}

export function dataCommands(program: Command): void {
  withStore(program.command('summary'))
    .description('the network a spec trains: parameters per layer and per gate, and the total (Keras counts)')
    .argument('<spec>', 'job spec (YAML or JSON)')
    .option('--json', 'machine-readable output')
    .action(async (specPath: string, flags: ConnectionFlags & { json?: boolean }) => {
      const { spec, prepared } = await prepareFor(specPath, flags);
      const summary = summarizeParameters(modelSpecOf(spec, prepared.manifest));
      process.stdout.write(flags.json === true ? `${JSON.stringify(summary, null, 2)}\n` : `${formatParameterSummary(summary)}\n`);
    });

  withStore(program.command('prepare'))
    .description("pack the spec's dataset into the store (a no-op when it is there) and summarize it")
    .argument('<spec>', 'job spec (YAML or JSON)')
    .option('--json', 'machine-readable output')
    .action(async (specPath: string, flags: ConnectionFlags & { json?: boolean }) => {
      const { spec, prepared, storeUrl } = await prepareFor(specPath, flags);
      const summary = summarizeDataset(prepared.manifest, spec.data.window);
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return;
      }
      info(`${prepared.created ? 'prepared' : 'already prepared'}: ${storeUrl}/datasets/${summary.datasetId}`);
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    });
}
