// npm run soak [-- --seed N --steps N --workers N --faults N --store URL --s3-endpoint URL --verbose]
// A job of `steps` steps trained under `faults` random faults (seeded), compared with an
// undisturbed run of the same spec (test-support/soak-driver.ts; docs/operations.md).
// Prints the figures, writes bench/results/soak.json, and exits 1 when anything was lost, a
// fault was not survived or the final weights differ.
import { parseArgs } from 'node:util';
import { formatSoakReport } from '@lstm-runner/runner';
import { writeBenchResults } from '../bench/bench-results';
import { removeSoakFiles, runSoak } from '../test-support/soak-driver';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    steps: { type: 'string', default: '300' },
    workers: { type: 'string', default: '3' },
    faults: { type: 'string', default: '36' },
    store: { type: 'string' },
    's3-endpoint': { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
});

function integer(name: 'seed' | 'steps' | 'workers' | 'faults'): number {
  const text = values[name];
  if (!/^\d+$/.test(text)) throw new RangeError(`--${name} must be a non-negative integer, got '${text}'`);
  return Number(text);
}

const result = await runSoak({
  seed: integer('seed'),
  steps: integer('steps'),
  workers: integer('workers'),
  faults: integer('faults'),
  verbose: values.verbose,
  ...(values.store === undefined ? {} : { storeUrl: values.store }),
  ...(values['s3-endpoint'] === undefined ? {} : { s3Endpoint: values['s3-endpoint'] }),
});
const { report } = result;
console.log(formatSoakReport(report));
writeBenchResults('soak', { date: new Date().toISOString(), ...report });
const ok = report.completed && report.weightsIdentical && report.lost.total === 0 && report.faultsSurvived === report.faultsInjected;
if (ok) {
  removeSoakFiles(result);
} else {
  console.log(`the soak found a problem; every process's log lines: ${result.logFile}`);
  process.exitCode = 1;
}
