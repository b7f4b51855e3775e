// Scale in corpus size (issue 16), the part of `npm run bench:scale` that grows the corpus:
// the State of the Union addresses (.lstm/data/sotu.txt, `npm run example-data`) repeated up
// to each size into a scratch directory, char-LM windows of lookBack 100 with step 1, and at
// each size:
//   - `lstm prepare` as its own process: wall time and peak RSS (VmHWM);
//   - `lstm train --local-workers 1` for a few steps: the coordinator's and the worker's peak
//     RSS, and the disk its segment cache holds after them;
//   - the time to plan a step (the windows of all its shards) with the job's shuffle
//     (version 2: block shuffle of Feistel permutations), and version 1's permutation array
//     (time and bytes) up to V1_MAX_WINDOWS;
//   - the segment cache's hit rate over many steps, as one worker thread that took every
//     shard sees it (a DatasetReader with the worker's defaults), for the job's shuffle and
//     for a uniform shuffle of all windows (one Feistel permutation) over a few steps.
// Every file is removed after its size is measured.
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import {
  cacheHitRate,
  DEFAULT_CACHE_MAX_BYTES,
  openDataset,
  ShardPlan,
  type DatasetReader,
  type SegmentCacheStats,
  type ShuffleSettings,
} from '@lstm-runner/data';
import { readJobRecord, shardPlanOf, shuffleOf } from '@lstm-runner/job-store';
import { openStore } from '@lstm-runner/storage';
import { median } from './bench-results';
import { followPeakRss } from './process-memory';

const ROOT = join(import.meta.dirname, '..');
const LSTM = join(ROOT, 'apps/coordinator/bin/lstm.js');
const MiB = 1024 * 1024;
/** Version 1's permutation is built only up to this many windows (4 bytes each). */
const V1_MAX_WINDOWS = 120_000_000;

export interface CorpusScaleOptions {
  readonly sizes: readonly number[];
  /** Training steps of the memory run. */
  readonly steps: number;
  /** Steps whose shards the hit-rate reader assembles, with the job's shuffle and with a uniform one. */
  readonly hitRateSteps: number;
  readonly uniformSteps: number;
  readonly workDir: string;
  readonly redisUrl: string;
  readonly log: (line: string) => void;
}

export interface CorpusScalePoint {
  readonly corpusBytes: number;
  readonly trainWindows: number;
  readonly prepare: { readonly seconds: number; readonly peakRssMiB: number; readonly segments: number; readonly storeMiB: number };
  readonly training: {
    readonly steps: number;
    readonly seconds: number;
    readonly coordinatorPeakMiB: number;
    readonly workerPeakMiB: number;
    readonly cacheDiskMiB: number;
  };
  readonly plan: {
    readonly shuffle: ShuffleSettings;
    readonly msPerStep: number;
    /** Version 1: the epoch's permutation (built once per epoch in every process that plans), null where not built. */
    readonly v1PermutationMs: number | null;
    readonly v1PermutationMiB: number;
  };
  readonly cache: { readonly jobShuffle: HitRate; readonly uniform: HitRate; readonly cacheMaxMiB: number };
}

interface HitRate extends SegmentCacheStats {
  readonly steps: number;
  readonly shards: number;
  readonly hitRate: number;
  readonly fetchedMiBPerShard: number;
  readonly diskMiB: number;
}

/** The sotu corpus repeated to about `bytes` (whole lines; the last copy is cut at a line end). */
async function writeCorpus(path: string, bytes: number): Promise<number> {
  const sotuPath = join(ROOT, '.lstm/data/sotu.txt');
  if (!existsSync(sotuPath)) throw new Error(`${sotuPath} is missing: run npm run example-data`);
  const sotu = readFileSync(sotuPath);
  const out = createWriteStream(path);
  let written = 0;
  while (written < bytes) {
    let piece = sotu;
    if (written + sotu.byteLength > bytes) piece = sotu.subarray(0, sotu.lastIndexOf(0x0a, bytes - written) + 1);
    if (piece.byteLength === 0) break;
    if (!out.write(piece)) await once(out, 'drain');
    written += piece.byteLength;
  }
  out.end();
  await once(out, 'finish');
  return written;
}

function writeSpec(file: string, corpus: string, name: string, steps: number): void {
  writeFileSync(
    file,
    `name: ${name}
data: { source: ${corpus}, format: text, text: { lowercase: true }, window: { lookBack: 100, step: 1 }, validation: 0 }
model: { embedding: 50, layers: [128] }
training: { epochs: 1, batchSize: 128, shardSize: 32, seed: 42, checkpointEvery: 1000, maxSteps: ${steps}, profile: { backend: wasm, threads: 1 } }
`,
  );
}

/** Runs `lstm ARGS` to its end, following the peak RSS of it and of its children. */
async function runLstm(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; ownMiB: number; childrenMiB: readonly number[] }> {
  const started = performance.now();
  const child = spawn(process.execPath, [LSTM, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
  const peak = await followPeakRss(child);
  if (peak.status !== 0) throw new Error(`lstm ${args.join(' ')} failed:\n${stderr}`);
  return { seconds: (performance.now() - started) / 1000, ownMiB: peak.ownMiB, childrenMiB: peak.childrenMiB };
}

/** Bytes of the files under `dir`. */
function diskBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

/** The windows of every shard of steps [0, steps) through `reader`, as one worker thread taking them all would. */
async function hitRate(reader: DatasetReader, plan: ShardPlan, steps: number, cacheDir: string): Promise<HitRate> {
  let shards = 0;
  for (let step = 0; step < Math.min(steps, plan.stepsPerEpoch); step++) {
    for (let shard = 0; shard < plan.shardsInStep(step); shard++, shards++) {
      await reader.assembleBatch(plan.shardWindows({ epoch: 0, stepInEpoch: step, shard }), 'train');
    }
  }
  const stats = reader.cacheStats();
  return {
    ...stats,
    steps: Math.min(steps, plan.stepsPerEpoch),
    shards,
    hitRate: cacheHitRate(stats),
    fetchedMiBPerShard: stats.bytesFetched / MiB / shards,
    diskMiB: diskBytes(cacheDir) / MiB,
  };
}

/** Median time to compute the windows of every shard of a step, over `steps` steps. */
function planMs(plan: ShardPlan, steps: number): number {
  const times: number[] = [];
  for (let step = 0; step < Math.min(steps, plan.stepsPerEpoch); step++) {
    const started = performance.now();
    for (let shard = 0; shard < plan.shardsInStep(step); shard++) plan.shardWindows({ epoch: 0, stepInEpoch: step, shard });
    times.push(performance.now() - started);
  }
  return median(times);
}

/** v1's epoch permutation: its time, or null above V1_MAX_WINDOWS. */
function v1PermutationMs(plan: ShardPlan): number | null {
  if (plan.trainWindows > V1_MAX_WINDOWS) return null;
  const v1 = new ShardPlan({ ...plan.settings, shuffle: { version: 1 } }, plan);
  const started = performance.now();
  v1.permutation(0);
  return performance.now() - started;
}

async function measureSize(options: CorpusScaleOptions, size: number): Promise<CorpusScalePoint> {
  const dir = join(options.workDir, `corpus-${size}`);
  mkdirSync(dir, { recursive: true });
  try {
    const corpus = join(dir, 'corpus.txt');
    const corpusBytes = await writeCorpus(corpus, size);
    const spec = join(dir, 'spec.yaml');
    const jobId = `scale-${size}`;
    writeSpec(spec, corpus, jobId, options.steps);
    const storeDir = join(dir, 'store');
    options.log(`${(corpusBytes / MiB).toFixed(0)} MiB: prepare`);
    const prepared = await runLstm(['prepare', spec, '--store', storeDir], {});
    const storeMiB = diskBytes(storeDir) / MiB;
    options.log(`${(corpusBytes / MiB).toFixed(0)} MiB: train ${options.steps} steps`);
    const cacheDir = join(dir, 'cache-worker');
    const trained = await runLstm(
      ['train', spec, '--local-workers', '1', '--job-id', jobId, '--store', storeDir, '--redis', options.redisUrl],
      { LSTM_CACHE_DIR: cacheDir },
    );
    const store = openStore(storeDir);
    try {
      const record = await readJobRecord(store, jobId);
      const open = (cache: string) => openDataset(store, record.datasetId, { cacheDir: cache, window: record.spec.data.window });
      const reader = await open(join(dir, 'cache-job'));
      const plan = shardPlanOf(record, reader.layout);
      options.log(`${(corpusBytes / MiB).toFixed(0)} MiB: plan and cache hit rate`);
      const jobShuffle = await hitRate(reader, plan, options.hitRateSteps, join(dir, 'cache-job'));
      const uniformReader = await open(join(dir, 'cache-uniform'));
      const uniformPlan = new ShardPlan(
        { ...plan.settings, shuffle: { version: 2, blockWindows: plan.trainWindows, groupBlocks: 1 } },
        uniformReader.layout,
      );
      const uniform = await hitRate(uniformReader, uniformPlan, options.uniformSteps, join(dir, 'cache-uniform'));
      return {
        corpusBytes,
        trainWindows: plan.trainWindows,
        prepare: { seconds: prepared.seconds, peakRssMiB: prepared.ownMiB, segments: reader.manifest.segments.length, storeMiB },
        training: {
          steps: options.steps,
          seconds: trained.seconds,
          coordinatorPeakMiB: trained.ownMiB,
          workerPeakMiB: Math.max(...trained.childrenMiB),
          cacheDiskMiB: diskBytes(cacheDir) / MiB,
        },
        plan: {
          shuffle: shuffleOf(record),
          msPerStep: planMs(plan, 50),
          v1PermutationMs: v1PermutationMs(plan),
          v1PermutationMiB: (4 * plan.trainWindows) / MiB,
        },
        cache: { jobShuffle, uniform, cacheMaxMiB: DEFAULT_CACHE_MAX_BYTES / MiB },
      };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function measureCorpusScale(options: CorpusScaleOptions): Promise<CorpusScalePoint[]> {
  const points: CorpusScalePoint[] = [];
  for (const size of options.sizes) points.push(await measureSize(options, size));
  return points;
}

/** A size such as 500M, 2G or 10485760 (bytes); K, M and G are powers of 1024. */
export function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(text.trim());
  if (match === null) throw new RangeError(`a size is a number of bytes with an optional K, M or G, got '${text}'`);
  const unit = { '': 1, k: 1024, m: MiB, g: 1024 * MiB }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(match[1]) * unit);
}
