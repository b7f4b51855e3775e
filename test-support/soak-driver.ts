// The soak (issue 16, docs/operations.md): a tiny model trained for `steps` steps by `workers`
// worker processes and a `lstm coordinator` service, on a private redis-server, while a seeded
// plan of faults (libs/runner's faultSchedule) kills and stops workers, kills the coordinator,
// restarts Redis empty, fails every store call for a while and slows shards down. Then the
// job's records and final weights are compared with an undisturbed run of the same spec.
// `npm run soak` (scripts/soak.ts) and apps/coordinator/test/soak.test.ts run it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readJobPointer, readMetrics } from '@lstm-runner/job-store';
import {
  compareRuns,
  faultSchedule,
  soakReport,
  type FaultKind,
  type FaultRecord,
  type Replay,
  type SoakReport,
} from '@lstm-runner/runner';
import { openStore, type ObjectStore } from '@lstm-runner/storage';
import { SENSOR_CSV } from './cluster';
import { JobWatch } from './soak-job-watch';
import { DEFAULT_SOAK_TIMINGS, SoakCluster, type SoakTimings } from './soak-cluster';

export interface SoakOptions {
  readonly seed: number;
  readonly steps: number;
  readonly workers: number;
  readonly faults: number;
  readonly kinds?: readonly FaultKind[];
  readonly checkpointEvery?: number;
  /**
   * Every shard of both runs takes this much longer (default 100 ms): the faults fire at steps,
   * and a job whose steps take a few ms would end during the first fault.
   */
  readonly shardDelayMs?: number;
  /**
   * The undisturbed run's shard delay (default shardDelayMs). A delay changes no number, so a
   * test may run the reference at full speed; the report's two wall times then do not compare.
   */
  readonly referenceShardDelayMs?: number;
  /** Where the jobs live: a directory (default: a temporary one) or s3://bucket/prefix with s3Endpoint. */
  readonly storeUrl?: string;
  readonly s3Endpoint?: string;
  readonly timings?: SoakTimings;
  /** A job that completes no step for this long is stuck: the soak ends there (default 120 s). */
  readonly stallMs?: number;
  /** Where the driver's lines go (default stderr). */
  readonly log?: (line: string) => void;
  /** Also every process's log lines (default: only when the soak fails, from soak.log). */
  readonly verbose?: boolean;
}

export interface SoakResult {
  readonly report: SoakReport;
  /** Every process's log lines, prefixed with their source. */
  readonly logFile: string;
}

const DEFAULT_SHARD_DELAY_MS = 100;

function specText(csv: string, steps: number, checkpointEvery: number): string {
  return `name: soak
data:
  source: ${csv}
  format: csv
  csv: { features: [humidity, temperature], targets: [temperature] }
  window: { lookBack: 10 }
  validation: 0.1
model: { layers: [8] }
training:
  epochs: 1000
  batchSize: 32
  shardSize: 8
  optimizer: { type: adam, learningRate: 0.01 }
  clipNorm: 5
  seed: 3
  maxSteps: ${steps}
  checkpointEvery: ${checkpointEvery}
  validateEvery: 20
  profile: { backend: wasm, threads: 1 }
`;
}

class SoakRun {
  readonly replays: Replay[] = [];
  readonly faults: FaultRecord[] = [];
  injectedStoreErrors = 0;
  private readonly lines: string[] = [];
  watch: JobWatch | undefined;

  /** Unique per soak, so a shared store (--store s3://...) can hold several soaks. */
  readonly id = randomBytes(4).toString('hex');
  readonly jobId = `soak-${this.id}`;
  readonly referenceId = `reference-${this.id}`;
  private readonly generationLine = new RegExp(`job ${this.jobId}: generation (\\d+), from step (\\d+)`);

  constructor(
    readonly options: SoakOptions,
    readonly dir: string,
  ) {}

  log(line: string): void {
    (this.options.log ?? ((text: string) => process.stderr.write(`${text}\n`)))(`soak: ${line}`);
  }

  onLine(source: string, line: string): void {
    this.lines.push(`${source}: ${line}`);
    if (this.options.verbose === true) this.log(`[${source}] ${line}`);
    if (line.includes('lstm-store-faults: injected')) this.injectedStoreErrors += 1;
    const generation = this.generationLine.exec(line);
    if (generation !== null && Number(generation[1]) > 1 && this.watch !== undefined) {
      this.replays.push({ fromStep: Number(generation[2]), reachedStep: this.watch.maxStep });
    }
  }

  writeLog(): string {
    const path = join(this.dir, 'soak.log');
    writeFileSync(path, `${this.lines.join('\n')}\n`);
    return path;
  }
}

async function finalWeights(store: ObjectStore, jobId: string): Promise<Buffer | null> {
  const pointer = await readJobPointer(store, jobId);
  if (pointer?.checkpoint == null) return null;
  return Buffer.from(await store.get(`${pointer.checkpoint.prefix}weights.bin`));
}

/** The undisturbed run: the same spec, the same number of workers, no faults. Returns its wall time. */
async function referenceRun(cluster: SoakCluster, spec: string, options: SoakOptions, jobId: string): Promise<number> {
  const prepared = await cluster.run(['prepare', spec]);
  if ((await prepared.exited) !== 0) throw new Error(`lstm prepare failed: ${prepared.stderr()}`);
  const started = Date.now();
  const run = await cluster.run(['train', spec, '--local-workers', String(options.workers), '--job-id', jobId], {
    LSTM_INJECT_STORE_FAULTS_FILE: '',
    LSTM_INJECT_SHARD_DELAY_MS: String(options.referenceShardDelayMs ?? options.shardDelayMs ?? DEFAULT_SHARD_DELAY_MS),
  });
  if ((await run.exited) !== 0) throw new Error(`the undisturbed run failed: ${run.stderr()}`);
  return Date.now() - started;
}

/** Carries out the plan while the job runs; stops early when the job ends or gets stuck (then false). */
async function injectFaults(run: SoakRun, watch: JobWatch, cluster: SoakCluster, started: number): Promise<boolean> {
  const { options } = run;
  const stallMs = options.stallMs ?? 120_000;
  const plan = faultSchedule(options);
  for (const fault of plan) {
    const reached = await watch.until(() => watch.step >= fault.atStep, stallMs);
    if (!reached) run.log(`no step completed in ${stallMs} ms before fault ${fault.index + 1}: the job is stuck (${watch.state})`);
    if (!reached || watch.final) return reached;
    await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    const firedAtMs = Date.now() - started;
    const stepAtFault = watch.step;
    const detail = await cluster.inject(fault);
    const over = Date.now();
    run.log(`fault ${fault.index + 1}/${plan.length} ${fault.kind} at step ${stepAtFault}: ${detail}`);
    // Survived: a step completes after the fault is over (or the job completes).
    const survived = await watch.until(() => watch.lastStepAt > over || watch.state === 'completed', stallMs);
    run.faults.push({ ...fault, firedAtMs, stepAtFault, survived, detail });
    if (!survived) {
      run.log(`no step completed in ${stallMs} ms after fault ${fault.index + 1}: the job is stuck (${watch.state})`);
      return false;
    }
  }
  return true;
}

/** Runs the soak; the report says what happened (the caller decides what fails). */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lstm-soak-'));
  const run = new SoakRun(options, dir);
  const storeUrl = options.storeUrl ?? join(dir, 'store');
  const csv = join(dir, 'sensors.csv');
  writeFileSync(csv, readFileSync(SENSOR_CSV, 'utf8').split('\n').slice(0, 1501).join('\n') + '\n');
  const spec = join(dir, 'soak.yaml');
  writeFileSync(spec, specText(csv, options.steps, options.checkpointEvery ?? 10));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LSTM_STORE: storeUrl,
    ...(options.s3Endpoint === undefined ? {} : { S3_ENDPOINT: options.s3Endpoint }),
    LSTM_QUEUE_PREFIX: `soak${run.id}`,
    LSTM_CACHE_DIR: join(dir, 'cache'),
    LSTM_INJECT_SHARD_DELAY_MS: String(options.shardDelayMs ?? DEFAULT_SHARD_DELAY_MS),
  };
  const cluster = await SoakCluster.start(dir, env, options.timings ?? DEFAULT_SOAK_TIMINGS, (source, line) => run.onLine(source, line));
  const store = openStore(storeUrl, { env: { ...env, LSTM_INJECT_STORE_FAULTS_FILE: '' } });
  try {
    run.log(`undisturbed run of ${options.steps} steps with ${options.workers} workers (store ${storeUrl})`);
    const referenceWallMs = await referenceRun(cluster, spec, options, run.referenceId);
    run.log(`undisturbed run: ${(referenceWallMs / 1000).toFixed(1)} s; now the soak, seed ${options.seed}, ${options.faults} faults`);
    for (let i = 0; i < options.workers; i++) cluster.startWorker();
    cluster.startCoordinator();
    const started = Date.now();
    const submitted = await cluster.run(['train', spec, '--job-id', run.jobId]);
    if ((await submitted.exited) !== 0) throw new Error(`lstm train (submit) failed: ${submitted.stderr()}`);
    const watch = new JobWatch(store, run.jobId);
    run.watch = watch;
    watch.start();
    if (await injectFaults(run, watch, cluster, started)) await watch.until(() => watch.final, options.stallMs ?? 120_000);
    const soakWallMs = Date.now() - started;
    await watch.stop();
    await watch.poll();
    const [reference, soak, expected, weights] = await Promise.all([
      readMetrics(store, run.referenceId),
      readMetrics(store, run.jobId),
      finalWeights(store, run.referenceId),
      finalWeights(store, run.jobId),
    ]);
    const report = soakReport({
      seed: options.seed,
      steps: options.steps,
      workers: options.workers,
      faults: run.faults,
      replays: run.replays,
      injectedStoreErrors: run.injectedStoreErrors,
      completed: watch.state === 'completed',
      weightsIdentical: expected !== null && weights !== null && expected.equals(weights),
      comparison: compareRuns(reference, soak),
      referenceWallMs,
      soakWallMs,
    });
    return { report, logFile: run.writeLog() };
  } finally {
    await run.watch?.stop();
    await cluster.stop();
    await store.close();
  }
}

/** Removes what a soak left (its directory, the log included). */
export function removeSoakFiles(result: SoakResult): void {
  rmSync(join(result.logFile, '..'), { recursive: true, force: true });
}
