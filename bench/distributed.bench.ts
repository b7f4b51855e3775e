// npm run bench:distributed [-- --backend wasm|native] — the distributed runner end to end,
// side by side in one run:
//   1. windows/s of the char-LM (Moby Dick, B=128, shards of 32, LSTM 128) trained by each
//      layout of this 2-core node: 1 worker x 1 thread, 2 workers x 1 thread and, for a
//      backend that computes on several threads (native), 1 worker x 2 threads; in
//      interleaved rounds so that a slow spell of the machine hits every layout; ratios are
//      medians of the rounds' ratios to 1 worker x 1 thread. The fastest layout is the
//      documented default of `lstm worker`, `--local-workers` and `npm start`;
//   2. the coordinator's serial time per step (the metric records' serialMs: checks,
//      dispatch, gradients not yet in, the sum, the optimizer and the weights write) for each
//      layout, and with 1 worker the step's time outside the worker's shards as a share of
//      the step;
//   3. aggregation of 8 shard gradients of 1 M parameters, clipping and an Adam step
//      (target <= 50 ms);
//   4. the machine's own ceiling for the same work, measured in the same rounds: the shard
//      computation alone (forward, BPTT, embedding gradient of 32 windows; no queue, store
//      or coordinator) in the processes and threads of each layout. On this VM two compute
//      processes at once ran anywhere from 1.2x to 1.9x one, from run to run, so each
//      layout's ratio is printed next to its ceiling;
//   5. the peak RSS of a worker process (VmHWM, threads included) training the same model on
//      a 10.7 MB corpus (the State of the Union addresses) with every window of 100
//      characters, 10.7 million of them (target <= 500 MB), and the coordinator's peak.
// Real processes, a private redis-server and a local store directory. Prints a table and
// writes bench/results/distributed.json (wasm) or distributed-<backend>.json. Asserts nothing
// about time. bench/peers.bench.ts imports its end-to-end runs from here.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import {
  clipByGlobalNorm,
  createOptimizer,
  createRng,
  initializeParameters,
  lossAndGradient,
  type ModelSpec,
} from '@lstm-runner/lstm-core';
import { loadComputeBackend } from '@lstm-runner/backends';
import { openStore } from '@lstm-runner/storage';
import { readMetrics, type MetricRecord } from '@lstm-runner/job-store';
import { aggregateShardGradients } from '@lstm-runner/runner';
import { startRedisServer } from '../test-support/servers';
import { benchFlag, median, writeBenchResults } from './bench-results';
import { followPeakRss } from './process-memory';

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

/** How a node's 2 cores are used: worker processes, each computing on `threads` threads. */
export interface NodeLayout {
  readonly workers: number;
  readonly threads: number;
}

const layoutName = (layout: NodeLayout): string =>
  `${layout.workers} worker${layout.workers === 1 ? '' : 's'} x ${layout.threads} thread${layout.threads === 1 ? '' : 's'}`;

interface EndToEnd {
  readonly windowsPerSecond: number;
  readonly msPerStep: number;
  /** The coordinator's own part of a step (metric records' serialMs), median. */
  readonly serialMsPerStep: number;
  /** A step's time outside the workers' shards; meaningful with one worker only (shards of 2 workers overlap). */
  readonly outsideShardsMsPerStep: number;
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

/** The bench's char-LM (E=50, H=128, B=128, shards of `layout.shardSize`, default 32) on a corpus of .lstm/data, as a spec file, on `layout`'s backend and threads. */
export function writeCharLmSpec(
  file: string,
  name: string,
  corpus: string,
  windowStep: number,
  training: string,
  layout: { readonly backend: string; readonly threads: number; readonly shardSize?: number } = { backend: 'wasm', threads: 1 },
): void {
  writeFileSync(
    file,
    `name: ${name}
data: { source: ${join(ROOT, '.lstm/data', corpus)}, format: text, text: { lowercase: true }, window: { lookBack: 100, step: ${windowStep} }, validation: 0.01 }
model: { embedding: 50, layers: [128] }
training: { epochs: 1, batchSize: 128, shardSize: ${layout.shardSize ?? SHARD_WINDOWS}, seed: 42, checkpointEvery: 1000, profile: { backend: ${layout.backend}, threads: ${layout.threads} }, ${training} }
`,
  );
}

export function runTraining(spec: string, jobId: string, workers: number, redisUrl: string, storeDir: string): void {
  const [command, args, options] = trainCommand(spec, jobId, workers, redisUrl, storeDir, 'cache');
  const result = spawnSync(command, args, { ...options, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`training with ${workers} workers failed:\n${result.stderr}`);
}

export async function measureEndToEnd(storeDir: string, jobId: string): Promise<EndToEnd> {
  const store = openStore(storeDir);
  try {
    const intervals = steadyIntervals(await readMetrics(store, jobId));
    const msPerStep = median(intervals.map((i) => i.intervalMs));
    const windows = median(intervals.map((i) => (i.record.windowsPerSecond * i.record.stepMs) / 1000));
    return {
      windowsPerSecond: (windows * 1000) / msPerStep,
      msPerStep,
      serialMsPerStep: median(intervals.map((i) => i.record.serialMs ?? Number.NaN)),
      outsideShardsMsPerStep: median(intervals.map((i) => i.intervalMs - i.record.shardComputeMs)),
    };
  } finally {
    await store.close();
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
  const { status, ownMiB, childrenMiB } = await followPeakRss(child);
  if (status !== 0) throw new Error(`the memory run failed:\n${stderr}`);
  return { workerPeakMiB: Math.max(...childrenMiB), coordinatorPeakMiB: ownMiB };
}

const CEILING_SHARDS = 40;
const SHARD_WINDOWS = 32;

/** In a child process (`--compute-only BACKEND THREADS`): CEILING_SHARDS shard computations of the bench's char-LM after warm-up; prints the ms they took. */
async function computeOnly(backendName: string, threads: number): Promise<void> {
  const spec: ModelSpec = {
    input: { kind: 'tokens', vocabulary: 60, embedding: 50 },
    layers: [128],
    head: { kind: 'classification', classes: 60 },
  };
  const { backend } = await loadComputeBackend(backendName, { threads });
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
  backend.dispose();
}

/** windows/s of the layout's compute-only processes started together. */
async function measureCeiling(backendName: string, layout: NodeLayout): Promise<number> {
  const runs = Array.from({ length: layout.workers }, () => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, import.meta.filename, '--compute-only', backendName, String(layout.threads)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    return new Promise<number>((resolve, reject) =>
      child.on('exit', (status) =>
        status === 0 ? resolve(Number(out.trim())) : reject(new Error(`compute-only process exited with ${status}`)),
      ),
    );
  });
  const elapsedMs = Math.max(...(await Promise.all(runs)));
  return (layout.workers * CEILING_SHARDS * SHARD_WINDOWS * 1000) / elapsedMs;
}

interface LayoutRound {
  readonly layout: NodeLayout;
  readonly endToEnd: EndToEnd;
  readonly computeOnlyWindowsPerSecond: number;
}

/** One round: each layout trains the char-LM once, then its compute-only ceiling is measured. */
async function measureRound(
  round: number,
  backendName: string,
  layouts: readonly NodeLayout[],
  specs: ReadonlyMap<NodeLayout, string>,
  redisUrl: string,
  storeDir: string,
): Promise<LayoutRound[]> {
  const measured: LayoutRound[] = [];
  for (const layout of layouts) {
    const jobId = `bench-${backendName}-r${round}-${layout.workers}w${layout.threads}t`;
    runTraining(specs.get(layout)!, jobId, layout.workers, redisUrl, storeDir);
    const endToEnd = await measureEndToEnd(storeDir, jobId);
    measured.push({ layout, endToEnd, computeOnlyWindowsPerSecond: await measureCeiling(backendName, layout) });
  }
  console.log(
    `round ${round + 1}: ` +
      measured
        .map(
          (m) =>
            `${layoutName(m.layout)} ${m.endToEnd.windowsPerSecond.toFixed(1)} windows/s (compute alone ${m.computeOnlyWindowsPerSecond.toFixed(1)})`,
        )
        .join('; '),
  );
  return measured;
}

async function main(): Promise<void> {
  const backendName = benchFlag('--backend') ?? 'wasm';
  const probe = await loadComputeBackend(backendName);
  const description = probe.backend.description;
  probe.backend.dispose();
  // wasm computes on one thread; a backend that takes threads gets the 1 x 2 layout too.
  const layouts: NodeLayout[] = [
    { workers: 1, threads: 1 },
    { workers: 2, threads: 1 },
    ...(backendName === 'native' ? [{ workers: 1, threads: 2 }] : []),
  ];
  const dir = mkdtempSync(join(os.tmpdir(), 'lstm-bench-distributed-'));
  const redis = await startRedisServer();
  try {
    spawnSync(process.execPath, [join(ROOT, 'scripts/example-data.mjs')], { cwd: ROOT, stdio: 'inherit' });
    const specs = new Map<NodeLayout, string>();
    for (const layout of layouts) {
      const spec = join(dir, `char-lm-${layout.workers}w${layout.threads}t.yaml`);
      writeCharLmSpec(spec, 'bench-char', 'moby-dick.txt', 3, `maxSteps: ${STEPS}`, { backend: backendName, threads: layout.threads });
      specs.set(layout, spec);
    }
    const memorySpec = join(dir, 'sotu-char.yaml');
    writeCharLmSpec(memorySpec, 'bench-memory', 'sotu.txt', 1, 'maxSteps: 30, validateEvery: 15', { backend: backendName, threads: 1 });
    const aggregation = benchAggregation();
    const storeDir = join(dir, 'store');
    const rounds: LayoutRound[][] = [];
    for (let round = 0; round < ROUNDS; round++) rounds.push(await measureRound(round, backendName, layouts, specs, redis.url, storeDir));
    const memory = await measureMemory(memorySpec, redis.url, storeDir);
    const figures = layouts.map((layout, index) => {
      const of = (pick: (m: LayoutRound) => number): number => median(rounds.map((r) => pick(r[index]!)));
      const base = (r: LayoutRound[]): LayoutRound => r[0]!;
      return {
        name: layoutName(layout),
        ...layout,
        windowsPerSecond: of((m) => m.endToEnd.windowsPerSecond),
        msPerStep: of((m) => m.endToEnd.msPerStep),
        serialMsPerStep: of((m) => m.endToEnd.serialMsPerStep),
        outsideShardsShare: layout.workers === 1 ? of((m) => m.endToEnd.outsideShardsMsPerStep / m.endToEnd.msPerStep) : Number.NaN,
        computeOnlyWindowsPerSecond: of((m) => m.computeOnlyWindowsPerSecond),
        speedupVsOneByOne: median(rounds.map((r) => r[index]!.endToEnd.windowsPerSecond / base(r).endToEnd.windowsPerSecond)),
        computeOnlySpeedupVsOneByOne: median(
          rounds.map((r) => r[index]!.computeOnlyWindowsPerSecond / base(r).computeOnlyWindowsPerSecond),
        ),
        rounds: rounds.map((r) => ({ ...r[index]!.endToEnd, computeOnlyWindowsPerSecond: r[index]!.computeOnlyWindowsPerSecond })),
      };
    });
    const fastest = figures.reduce((best, f) => (f.windowsPerSecond > best.windowsPerSecond ? f : best));
    const results = {
      date: new Date().toISOString(),
      machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model ?? '?', node: process.version, loadAverageAfter: os.loadavg() },
      backend: { name: backendName, description },
      charLm: { steps: STEPS, rounds: ROUNDS, layouts: figures, fastestLayout: fastest.name },
      aggregation,
      memory: { corpus: 'sotu.txt (10.7 MB), lookBack 100, step 1', steps: 30, ...memory },
    };
    const fmt = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : '-');
    console.log(
      `\nlstm-runner distributed benchmark: char-LM on Moby Dick (E=50, H=128, B=128, T=100, shards of 32), ${description}, ${STEPS} steps per run, medians of ${ROUNDS} interleaved rounds`,
    );
    console.log(
      '| layout | windows/s | vs 1 x 1 | compute alone, vs 1 x 1 | ms/step | coordinator serial ms/step | outside shards (1 worker) |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const f of figures)
      console.log(
        `| ${f.name} | ${fmt(f.windowsPerSecond)} | ${fmt(f.speedupVsOneByOne, 2)}x | ${fmt(f.computeOnlySpeedupVsOneByOne, 2)}x | ${fmt(f.msPerStep)} | ${fmt(f.serialMsPerStep)} (target <= 8) | ${Number.isFinite(f.outsideShardsShare) ? `${fmt(100 * f.outsideShardsShare)}%` : '-'} |`,
      );
    console.log(`fastest layout here: ${fastest.name}`);
    console.log(`aggregate 8 x 1M grads + clip + Adam: ${fmt(aggregation.msMedian)} ms (target <= 50 ms)`);
    console.log(
      `peak RSS, 10.7 MB corpus, 10.7 M windows: worker ${fmt(memory.workerPeakMiB)} MiB, coordinator ${fmt(memory.coordinatorPeakMiB)} MiB (worker target <= 500 MB)`,
    );
    writeBenchResults(backendName === 'wasm' ? 'distributed' : `distributed-${backendName}`, results);
  } finally {
    redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  const computeOnlyAt = process.argv.indexOf('--compute-only');
  if (computeOnlyAt >= 0) await computeOnly(process.argv[computeOnlyAt + 1] ?? 'wasm', Number(process.argv[computeOnlyAt + 2] ?? 1));
  else await main();
}
