// npm run bench:distributed — the distributed runner end to end, side by side in one run:
//   1. windows/s of the char-LM (Moby Dick, B=128, shards of 32, LSTM 128) trained with 1
//      and with 2 local worker processes (the target on this 2-core machine: >= 1.7x), in
//      interleaved rounds (1 worker, 2 workers, 1, 2, ...) so that a slow spell of the
//      machine hits both; the ratio is the median of the rounds' ratios;
//   2. coordination per step as a share of the step, with 1 worker: the time between two
//      steps' metric records minus the time the worker spent on the step's shards (queue
//      round trips, storage, aggregation, optimizer, metrics) — target <= 10%;
//   3. aggregation of 8 shard gradients of 1 M parameters, clipping and an Adam step
//      (target <= 50 ms);
//   4. the machine's own ceiling for the same work, measured in the same rounds: the shard
//      computation alone (forward, BPTT, embedding gradient of 32 windows; no queue, store
//      or coordinator) in one process, then in two processes at once. On this VM two
//      compute processes at once ran anywhere from 1.2x to 1.9x one, from run to run, so
//      the 2-worker ratio is printed next to this ceiling;
//   5. the peak RSS of a worker process (VmHWM, threads included) training the same model on
//      a 10.7 MB corpus (the State of the Union addresses) with every window of 100
//      characters, 10.7 million of them (target <= 500 MB), and the coordinator's peak.
// Real processes, a private redis-server and a local store directory. Prints a table and
// writes bench/results/distributed.json. Asserts nothing about time.
// bench/peers.bench.ts imports its end-to-end runs from here.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import {
  clipByGlobalNorm,
  createOptimizer,
  createRng,
  createTfjsBackend,
  initializeParameters,
  lossAndGradient,
  type ModelSpec,
} from '@lstm-runner/lstm-core';
import { openStore } from '@lstm-runner/storage';
import { readMetrics, type MetricRecord } from '@lstm-runner/job-store';
import { aggregateShardGradients } from '@lstm-runner/runner';
import { startRedisServer } from '../test-support/servers';
import { median, writeBenchResults } from './bench-results';

const ROOT = join(import.meta.dirname, '..');
export const STEPS = Number(process.env['BENCH_STEPS'] ?? 40);
// Steps left out at the start: each worker JIT-compiles, sizes its buffers and caches its
// dataset segments on its first shards, and with 2 workers each sees half the shards, so
// its warm-up lasts twice as many steps (measured: shards ran 70-110 ms up to step 8, then
// 58-62 ms, with 1 worker and with 2).
const WARMUP_STEPS = 8;
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);

function benchAggregation(): { msMedian: number; parameters: number; shards: number } {
  const parameters = 1_000_000;
  const rng = createRng(1);
  const shards = Array.from({ length: 8 }, (_, shard) => {
    const gradient = new Float32Array(parameters);
    for (let p = 0; p < parameters; p++) gradient[p] = rng.nextFloat() - 0.5;
    return { shard, gradient, loss: 1, count: 32 };
  });
  const params = new Float32Array(parameters);
  const optimizer = createOptimizer({ type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }, parameters);
  const times: number[] = [];
  for (let round = 0; round < 12; round++) {
    const started = performance.now();
    const { gradient } = aggregateShardGradients(shards, parameters);
    clipByGlobalNorm(gradient, 5);
    optimizer.apply(params, gradient);
    if (round >= 2) times.push(performance.now() - started);
  }
  return { msMedian: median(times), parameters, shards: 8 };
}

interface EndToEnd {
  readonly workers: number;
  readonly windowsPerSecond: number;
  readonly msPerStep: number;
  readonly coordinationMsPerStep: number;
  readonly coordinationShare: number;
}

/** Steady-state steps: after the warm-up, and not followed by a validation. */
function steadyIntervals(records: readonly MetricRecord[]): { intervalMs: number; record: MetricRecord }[] {
  const out: { intervalMs: number; record: MetricRecord }[] = [];
  for (let i = Math.max(1, WARMUP_STEPS); i < records.length; i++) {
    const record = records[i]!;
    if (record.validationLoss !== null || records[i - 1]!.validationLoss !== null) continue;
    out.push({ intervalMs: record.wallTimeMs - records[i - 1]!.wallTimeMs, record });
  }
  return out;
}

/** `lstm train SPEC --local-workers N` as [command, args, options] for spawn/spawnSync; the workers cache segments in `cacheName` beside the store. */
function trainCommand(spec: string, jobId: string, workers: number, redisUrl: string, storeDir: string, cacheName: string) {
  return [
    process.execPath,
    [
      join(ROOT, 'apps/coordinator/bin/lstm.js'),
      'train',
      spec,
      '--local-workers',
      String(workers),
      '--job-id',
      jobId,
      '--store',
      storeDir,
      '--redis',
      redisUrl,
    ],
    { cwd: ROOT, env: { ...process.env, LSTM_CACHE_DIR: join(storeDir, '..', cacheName) } },
  ] as const;
}

/** The bench's char-LM (E=50, H=128, B=128, shards of 32) on a corpus of .lstm/data, as a spec file, on `backend` (1 thread). */
export function writeCharLmSpec(file: string, name: string, corpus: string, windowStep: number, training: string, backend = 'wasm'): void {
  writeFileSync(
    file,
    `name: ${name}
data: { source: ${join(ROOT, '.lstm/data', corpus)}, format: text, text: { lowercase: true }, window: { lookBack: 100, step: ${windowStep} }, validation: 0.01 }
model: { embedding: 50, layers: [128] }
training: { epochs: 1, batchSize: 128, shardSize: 32, seed: 42, checkpointEvery: 1000, profile: { backend: ${backend}, threads: 1 }, ${training} }
`,
  );
}

export function runTraining(spec: string, jobId: string, workers: number, redisUrl: string, storeDir: string): void {
  const [command, args, options] = trainCommand(spec, jobId, workers, redisUrl, storeDir, 'cache');
  const result = spawnSync(command, args, { ...options, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`training with ${workers} workers failed:\n${result.stderr}`);
}

export async function measureEndToEnd(storeDir: string, jobId: string, workers: number): Promise<EndToEnd> {
  const store = openStore(storeDir);
  try {
    const intervals = steadyIntervals(await readMetrics(store, jobId));
    const msPerStep = median(intervals.map((i) => i.intervalMs));
    const windows = median(intervals.map((i) => (i.record.windowsPerSecond * i.record.stepMs) / 1000));
    const coordinationMs = median(intervals.map((i) => i.intervalMs - i.record.shardComputeMs));
    return {
      workers,
      windowsPerSecond: (windows * 1000) / msPerStep,
      msPerStep,
      coordinationMsPerStep: workers === 1 ? coordinationMs : NaN,
      coordinationShare: workers === 1 ? coordinationMs / msPerStep : NaN,
    };
  } finally {
    await store.close();
  }
}

/** VmHWM (peak resident set) of a process in MiB, or null once it is gone. */
function peakRssMiB(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
    return Number.isFinite(kib) ? kib / 1024 : null;
  } catch {
    return null;
  }
}

/** The pids of the processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Trains with one local worker and follows the peak RSS of the coordinator and of the worker until the run ends. */
async function measureMemory(
  spec: string,
  redisUrl: string,
  storeDir: string,
): Promise<{ workerPeakMiB: number; coordinatorPeakMiB: number }> {
  const [command, args, options] = trainCommand(spec, 'bench-memory', 1, redisUrl, storeDir, 'cache-memory');
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const peaks = new Map<number, number>();
  const sample = (): void => {
    if (child.pid === undefined) return;
    for (const pid of [child.pid, ...childrenOf(child.pid)]) {
      const peak = peakRssMiB(pid);
      if (peak !== null) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, peak));
    }
  };
  const timer = setInterval(sample, 100);
  const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  if (status !== 0) throw new Error(`the memory run failed:\n${stderr}`);
  const coordinatorPeakMiB = peaks.get(child.pid!) ?? NaN;
  peaks.delete(child.pid!);
  return { workerPeakMiB: Math.max(...peaks.values()), coordinatorPeakMiB };
}

const CEILING_SHARDS = 40;
const SHARD_WINDOWS = 32;

/** In a child process (`--compute-only`): CEILING_SHARDS shard computations of the bench's char-LM after warm-up; prints the ms they took. */
async function computeOnly(): Promise<void> {
  const spec: ModelSpec = {
    input: { kind: 'tokens', vocabulary: 60, embedding: 50 },
    layers: [128],
    head: { kind: 'classification', classes: 60 },
  };
  const backend = await createTfjsBackend('wasm');
  const rng = createRng(5);
  const T = 100;
  const batch = {
    B: SHARD_WINDOWS,
    T,
    tokens: Int32Array.from({ length: SHARD_WINDOWS * T }, () => rng.nextInt(60)),
    classes: Int32Array.from({ length: SHARD_WINDOWS }, () => rng.nextInt(60)),
  };
  const params = initializeParameters(spec, 1);
  const grads = new Float32Array(params.length);
  const shard = (): void => {
    grads.fill(0);
    lossAndGradient(backend, spec, params, batch, grads);
  };
  for (let n = 0; n < 2 * WARMUP_STEPS; n++) shard();
  const started = performance.now();
  for (let n = 0; n < CEILING_SHARDS; n++) shard();
  console.log(performance.now() - started);
}

/** windows/s of `processes` compute-only processes started together. */
async function measureCeiling(processes: number): Promise<number> {
  const runs = Array.from({ length: processes }, () => {
    const child = spawn(process.execPath, [...process.execArgv, import.meta.filename, '--compute-only'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return new Promise<number>((resolve, reject) =>
      child.on('exit', (status) =>
        status === 0 ? resolve(Number(out.trim())) : reject(new Error(`compute-only process exited with ${status}`)),
      ),
    );
  });
  const elapsedMs = Math.max(...(await Promise.all(runs)));
  return (processes * CEILING_SHARDS * SHARD_WINDOWS * 1000) / elapsedMs;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(os.tmpdir(), 'lstm-bench-distributed-'));
  const redis = await startRedisServer();
  try {
    spawnSync(process.execPath, [join(ROOT, 'scripts/example-data.mjs')], { cwd: ROOT, stdio: 'inherit' });
    const spec = join(dir, 'char-lm.yaml');
    writeCharLmSpec(spec, 'bench-char', 'moby-dick.txt', 3, `maxSteps: ${STEPS}`);
    const memorySpec = join(dir, 'sotu-char.yaml');
    writeCharLmSpec(memorySpec, 'bench-memory', 'sotu.txt', 1, 'maxSteps: 30, validateEvery: 15');
    const aggregation = benchAggregation();
    const storeDir = join(dir, 'store');
    const rounds: { one: EndToEnd; two: EndToEnd; ratio: number; ceiling: { one: number; two: number; ratio: number } }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const measured: EndToEnd[] = [];
      for (const workers of [1, 2]) {
        const jobId = `bench-r${round}-${workers}w`;
        runTraining(spec, jobId, workers, redis.url, storeDir);
        measured.push(await measureEndToEnd(storeDir, jobId, workers));
      }
      const [one, two] = measured as [EndToEnd, EndToEnd];
      const ceilingOne = await measureCeiling(1);
      const ceilingTwo = await measureCeiling(2);
      const ceiling = { one: ceilingOne, two: ceilingTwo, ratio: ceilingTwo / ceilingOne };
      rounds.push({ one, two, ratio: two.windowsPerSecond / one.windowsPerSecond, ceiling });
      console.log(
        `round ${round + 1}: 1 worker ${one.windowsPerSecond.toFixed(1)} windows/s, 2 workers ${two.windowsPerSecond.toFixed(1)}: ${(two.windowsPerSecond / one.windowsPerSecond).toFixed(2)}x; ` +
          `compute alone, 1 process ${ceilingOne.toFixed(1)}, 2 processes ${ceilingTwo.toFixed(1)}: ${ceiling.ratio.toFixed(2)}x`,
      );
    }
    const memory = await measureMemory(memorySpec, redis.url, storeDir);
    const medianOf = (pick: (round: (typeof rounds)[number]) => number): number => median(rounds.map(pick));
    const one: EndToEnd = {
      workers: 1,
      windowsPerSecond: medianOf((r) => r.one.windowsPerSecond),
      msPerStep: medianOf((r) => r.one.msPerStep),
      coordinationMsPerStep: medianOf((r) => r.one.coordinationMsPerStep),
      coordinationShare: medianOf((r) => r.one.coordinationShare),
    };
    const two: EndToEnd = {
      workers: 2,
      windowsPerSecond: medianOf((r) => r.two.windowsPerSecond),
      msPerStep: medianOf((r) => r.two.msPerStep),
      coordinationMsPerStep: NaN,
      coordinationShare: NaN,
    };
    const results = {
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', node: process.version },
      charLm: {
        steps: STEPS,
        rounds: rounds.map((r) => ({
          oneWorker: r.one.windowsPerSecond,
          twoWorkers: r.two.windowsPerSecond,
          ratio: r.ratio,
          computeOnly: r.ceiling,
        })),
        oneWorker: one,
        twoWorkers: two,
        speedupTwoVsOne: medianOf((r) => r.ratio),
        computeOnlySpeedupTwoVsOne: medianOf((r) => r.ceiling.ratio),
        shareOfCeiling: medianOf((r) => r.ratio / r.ceiling.ratio),
        coordinationShare: one.coordinationShare,
      },
      aggregation: { shards: aggregation.shards, parameters: aggregation.parameters, msMedian: aggregation.msMedian },
      memory: { corpus: 'sotu.txt (10.7 MB), lookBack 100, step 1', steps: 30, ...memory },
    };
    const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
    console.log(
      `\nlstm-runner distributed benchmark: char-LM on Moby Dick (E=50, H=128, B=128, T=100, shards of 32, wasm), ${STEPS} steps per run, medians of ${ROUNDS} interleaved rounds`,
    );
    console.log('| what | 1 worker | 2 workers | ratio / target |');
    console.log('| --- | --- | --- | --- |');
    console.log(
      `| windows/s end to end | ${fmt(one.windowsPerSecond)} | ${fmt(two.windowsPerSecond)} | ${fmt(results.charLm.speedupTwoVsOne, 2)}x (>= 1.7x) |`,
    );
    console.log(
      `| compute alone (no queue, store or coordinator), windows/s | ${fmt(medianOf((r) => r.ceiling.one))} | ${fmt(medianOf((r) => r.ceiling.two))} | ${fmt(results.charLm.computeOnlySpeedupTwoVsOne, 2)}x: the machine's ceiling; 2 workers reach ${fmt(100 * results.charLm.shareOfCeiling)}% of it |`,
    );
    console.log(`| ms per step (steady) | ${fmt(one.msPerStep)} | ${fmt(two.msPerStep)} | |`);
    console.log(`| coordination per step | ${fmt(one.coordinationMsPerStep)} ms (${fmt(one.coordinationShare * 100)}%) | | <= 10% |`);
    console.log(`| aggregate 8 x 1M grads + clip + Adam | ${fmt(aggregation.msMedian)} ms | | <= 50 ms |`);
    console.log(
      `| peak RSS, 10.7 MB corpus, 10.7 M windows | worker ${fmt(memory.workerPeakMiB)} MiB, coordinator ${fmt(memory.coordinatorPeakMiB)} MiB | | worker <= 500 MB |`,
    );
    writeBenchResults('distributed', results);
  } finally {
    redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  if (process.argv.includes('--compute-only')) await computeOnly();
  else await main();
}
