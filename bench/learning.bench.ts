// npm run bench:learning: how much each training step teaches (issue 13). The npm-start spec
// (examples/moby-dick.yaml, or --spec) trained with output 'last' and 'sequence' and init
// 'keras' and 'uniform', for --steps (default 300) steps and --seeds (default 3) init seeds,
// by lstm-core (in process, the coordinator's step: shards of shardSize summed, the mean
// gradient clipped, Adam) and by PyTorch (bench/peers/torch_learning.py), both on exactly
// the windows bench/learning-data.ts writes from our packed dataset: the shuffle of the
// spec's seed, the coordinator's validation windows. Prints and writes
// bench/results/learning.json: the validation loss (nats/char) at every 100 steps, for a
// sequence model over every position and over the last position alone (what 'last'
// predicts), the milliseconds per step, and the bigram baseline of the same windows.
//
// The peer runs in a child process at the same time as ours (one thread each), so both
// share the machine's load. $LSTM_PYTHON (default /usr/bin/python3) must import torch, or
// the peer is skipped with one line (--no-peer skips it too).
//
//   npm run bench:learning -- [--steps 300] [--seeds 3] [--backend native] [--spec FILE]
//                             [--configs last/keras,last/uniform,sequence/keras,sequence/uniform]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { loadComputeBackend } from '@lstm-runner/backends';
import {
  batchForOutput,
  createOptimizer,
  evaluateLoss,
  initializeParameters,
  lossAndGradient,
  ModelActivations,
  parameterLayout,
  type Batch,
  type ComputeBackend,
  type ModelInit,
  type ModelOutput,
  type ModelSpec,
} from '@lstm-runner/lstm-core';
import { optimizerStep, type ShardGradient } from '@lstm-runner/runner';
import { benchFlag, writeBenchResults } from './bench-results';
import { writeLearningData } from './learning-data';
import { peerSetup, type Peer } from './peers.bench';

const ROOT = join(import.meta.dirname, '..');
const PEER_DIR = join(import.meta.dirname, 'peers');
const PYTHON = process.env['LSTM_PYTHON'] ?? '/usr/bin/python3';
const EVALUATION_BATCH = 256;

const metaSchema = z.object({
  vocabularySize: z.number().int().positive(),
  lookBack: z.number().int().positive(),
  horizon: z.number().int().positive(),
  model: z.object({ embedding: z.number().int().positive(), layers: z.array(z.number().int().positive()) }),
  training: z.object({
    batchSize: z.number().int().positive(),
    optimizer: z.union([
      z.object({ type: z.literal('adam'), learningRate: z.number(), beta1: z.number(), beta2: z.number(), epsilon: z.number() }),
      z.object({ type: z.literal('sgd'), learningRate: z.number(), momentum: z.number() }),
    ]),
    clipNorm: z.number().nullable(),
    seed: z.number(),
  }),
  tokens: z.object({ file: z.string(), dtype: z.enum(['uint8', 'uint16', 'int32']) }),
});

/** What bench/learning-data.ts wrote, as arrays. */
interface LearningFiles {
  readonly meta: z.infer<typeof metaSchema>;
  readonly tokens: Int32Array;
  readonly trainStarts: Int32Array;
  /** [steps + 1] offsets into trainStarts */
  readonly stepOffsets: Int32Array;
  readonly validationStarts: Int32Array;
}

function readLearningFiles(dir: string): LearningFiles {
  const meta = metaSchema.parse(JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')));
  const bytes = (name: string): Uint8Array => new Uint8Array(readFileSync(join(dir, name)));
  const int32 = (name: string): Int32Array => {
    const b = bytes(name);
    return new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);
  };
  const raw = bytes(meta.tokens.file);
  const tokens =
    meta.tokens.dtype === 'uint8'
      ? Int32Array.from(raw)
      : meta.tokens.dtype === 'uint16'
        ? Int32Array.from(new Uint16Array(raw.buffer, raw.byteOffset, raw.byteLength / 2))
        : new Int32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
  return {
    meta,
    tokens,
    trainStarts: int32('train-starts.bin'),
    stepOffsets: int32('train-steps.bin'),
    validationStarts: int32('validation-starts.bin'),
  };
}

/** windows starting at `starts` -> tokens [B*T] and the class after each window [B]. */
function windowBatch(files: LearningFiles, starts: ArrayLike<number>): Batch<Float32Array> {
  const T = files.meta.lookBack;
  const B = starts.length;
  const tokens = new Int32Array(B * T);
  const classes = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const start = starts[b]!;
    tokens.set(files.tokens.subarray(start, start + T), b * T);
    classes[b] = files.tokens[start + T + files.meta.horizon - 1]!;
  }
  return { B, T, tokens, classes };
}

/**
 * The bigram model of the training rows (every row before the first validation window),
 * add-one smoothed, scored on every predicted character of the validation windows: what a
 * table of letter pairs knows, in nats/char.
 */
function bigramBaseline(files: LearningFiles): number {
  const V = files.meta.vocabularySize;
  const end = Math.min(...files.validationStarts);
  const counts = new Float64Array(V * V);
  for (let r = 1; r < end; r++) counts[files.tokens[r - 1]! * V + files.tokens[r]!]! += 1;
  const rowSums = new Float64Array(V);
  counts.forEach((count, k) => (rowSums[Math.floor(k / V)]! += count));
  let loss = 0;
  let n = 0;
  for (const start of files.validationStarts) {
    for (let t = 1; t <= files.meta.lookBack; t++) {
      const previous = files.tokens[start + t - 1]!;
      loss -= Math.log((counts[previous * V + files.tokens[start + t]!]! + 1) / (rowSums[previous]! + V));
      n++;
    }
  }
  return loss / n;
}

interface Config {
  readonly output: ModelOutput;
  readonly init: ModelInit;
}

interface Validation {
  /** Mean over every predicted position (the loss the job itself reports). */
  readonly loss: number;
  /** Mean over the last position of each window (what 'last' predicts); = loss for 'last'. */
  readonly lastPosition: number;
}

function validate(backend: ComputeBackend<Float32Array>, spec: ModelSpec, params: Float32Array, files: LearningFiles): Validation {
  const activations = new ModelActivations((length) => backend.allocate(length));
  const lastSpec: ModelSpec = { ...spec, output: 'last' };
  let sum = 0;
  let count = 0;
  let lastSum = 0;
  let lastCount = 0;
  for (let first = 0; first < files.validationStarts.length; first += EVALUATION_BATCH) {
    const batch = windowBatch(files, files.validationStarts.subarray(first, first + EVALUATION_BATCH));
    const all = evaluateLoss(backend, spec, params, batchForOutput(spec, batch), activations);
    sum += all.loss;
    count += all.count;
    const last = spec.output === 'sequence' ? evaluateLoss(backend, lastSpec, params, batch, activations) : all;
    lastSum += last.loss;
    lastCount += last.count;
  }
  return { loss: sum / count, lastPosition: lastSum / lastCount };
}

interface RunResult {
  readonly validation: Record<string, Validation>;
  readonly msPerStep: number;
}

/** Our training of `spec` (init seed `seed`) over the files' steps, validating at `checkpoints`. */
function trainOurs(
  backend: ComputeBackend<Float32Array>,
  spec: ModelSpec,
  seed: number,
  files: LearningFiles,
  checkpoints: number[],
): RunResult {
  const { meta } = files;
  let params = initializeParameters(spec, seed);
  const optimizer = createOptimizer(meta.training.optimizer, params.length);
  const activations = new ModelActivations((length) => backend.allocate(length));
  const shardSize = 32;
  const P = parameterLayout(spec).size;
  const validation: Record<string, Validation> = {};
  let trainMs = 0;
  const last = checkpoints.at(-1)!;
  for (let step = 0; step <= last; step++) {
    if (checkpoints.includes(step)) validation[step] = validate(backend, spec, params, files);
    if (step === last) break;
    const started = performance.now();
    const starts = files.trainStarts.subarray(files.stepOffsets[step]!, files.stepOffsets[step + 1]!);
    const shards: ShardGradient[] = [];
    for (let from = 0; from < starts.length; from += shardSize) {
      const gradient = new Float32Array(P);
      const batch = batchForOutput(spec, windowBatch(files, starts.subarray(from, from + shardSize)));
      const { loss, count } = lossAndGradient(backend, spec, params, batch, gradient, activations);
      shards.push({ shard: shards.length, gradient, loss, count });
    }
    const outcome = optimizerStep(params, optimizer, shards, meta.training.clipNorm ?? undefined);
    if (outcome.kind === 'rejected') throw new Error(`step ${step}: ${outcome.reason}`);
    params = outcome.params;
    trainMs += performance.now() - started;
  }
  return { validation, msPerStep: trainMs / last };
}

const peerRunSchema = z.object({
  validationLoss: z.record(z.string(), z.number()),
  validationLossLastPosition: z.record(z.string(), z.number()).optional(),
  trainSeconds: z.number(),
});
type PeerRun = z.infer<typeof peerRunSchema>;

/** torch_learning.py on the same files, in a child process; resolves with its JSON line. */
function startPeer(peer: Peer, dir: string, config: Config, seed: number, checkpoints: number[]): Promise<PeerRun> {
  const args = [join(PEER_DIR, 'torch_learning.py'), '--data', dir, '--steps', checkpoints.join(','), '--seed', String(seed)];
  args.push('--init', config.init === 'uniform' ? 'pytorch' : 'keras', '--output', config.output, '--threads', '1');
  const child = spawn(PYTHON, args, { cwd: PEER_DIR, env: peer.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`torch_learning.py exited ${code}:\n${stderr}`));
      else resolve(peerRunSchema.parse(JSON.parse(stdout.trim().split('\n').at(-1)!)));
    });
  });
}

const mean = (values: readonly number[]): number => values.reduce((sum, value) => sum + value, 0) / values.length;
const round4 = (value: number): number => Math.round(value * 1e4) / 1e4;

function parseConfigs(text: string): Config[] {
  return text.split(',').map((item) => {
    const [output, init] = item.split('/');
    if ((output !== 'last' && output !== 'sequence') || (init !== 'keras' && init !== 'uniform'))
      throw new Error(`--configs takes output/init pairs such as last/keras or sequence/uniform, got ${item}`);
    return { output, init };
  });
}

interface ConfigSummary {
  readonly config: Config;
  readonly ours: { readonly runs: RunResult[]; readonly mean: Record<string, Validation>; readonly msPerStep: number };
  readonly pytorch: { readonly runs: PeerRun[]; readonly mean: Record<string, Validation>; readonly msPerStep: number } | null;
}

function meanValidation(runs: readonly Record<string, Validation>[], checkpoints: number[]): Record<string, Validation> {
  return Object.fromEntries(
    checkpoints.map((step) => [
      step,
      { loss: round4(mean(runs.map((run) => run[step]!.loss))), lastPosition: round4(mean(runs.map((run) => run[step]!.lastPosition))) },
    ]),
  );
}

function peerValidation(run: PeerRun): Record<string, Validation> {
  return Object.fromEntries(
    Object.entries(run.validationLoss).map(([step, loss]) => [
      step,
      { loss, lastPosition: run.validationLossLastPosition?.[step] ?? loss },
    ]),
  );
}

function describeRow(label: string, validation: Record<string, Validation>, checkpoints: number[], msPerStep: number): string {
  const cells = checkpoints.map((step) => {
    const v = validation[step]!;
    return v.loss === v.lastPosition ? v.loss.toFixed(3) : `${v.loss.toFixed(3)} (last ${v.lastPosition.toFixed(3)})`;
  });
  return `  ${label.padEnd(9)} ${cells.join('  ')}  | ${msPerStep.toFixed(0)} ms/step`;
}

async function main(): Promise<void> {
  const steps = Number(benchFlag('--steps') ?? 300);
  const seeds = Number(benchFlag('--seeds') ?? 3);
  const backendName = benchFlag('--backend') ?? 'native';
  const specPath = benchFlag('--spec') ?? join(ROOT, 'examples/moby-dick.yaml');
  const configs = parseConfigs(benchFlag('--configs') ?? 'last/keras,last/uniform,sequence/keras,sequence/uniform');
  const checkpoints = [...new Set([0, ...Array.from({ length: Math.floor(steps / 100) }, (_, k) => (k + 1) * 100), steps])];
  spawnSync(process.execPath, [join(ROOT, 'scripts/example-data.mjs')], { cwd: ROOT, stdio: 'inherit' });
  const dir = mkdtempSync(join(os.tmpdir(), 'lstm-bench-learning-'));
  const loaded = await loadComputeBackend(backendName, { threads: 1 });
  const backend = loaded.backend;
  try {
    const summary = await writeLearningData({ specPath, outDir: dir, steps });
    const files = readLearningFiles(dir);
    const bigram = bigramBaseline(files);
    const peer = process.argv.includes('--no-peer') ? { skipped: 'PyTorch skipped: --no-peer' } : peerSetup(undefined);
    console.log(
      `machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cpus, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    console.log(
      `ours: ${loaded.summary}, 1 thread; ${'skipped' in peer ? peer.skipped : `peer: PyTorch ${String(peer.description['torch'])}, 1 thread`}`,
    );
    console.log(
      `data: ${specPath}: ${summary.rows} characters, V=${summary.vocabularySize}, ${summary.validationWindows} validation windows`,
    );
    console.log(`bigram baseline on the validation windows: ${bigram.toFixed(3)} nats/char`);
    console.log(`validation loss (nats/char) at steps ${checkpoints.join(', ')}; means of ${seeds} init seeds`);
    const results: ConfigSummary[] = [];
    for (const config of configs) {
      const spec: ModelSpec = {
        input: { kind: 'tokens', vocabulary: files.meta.vocabularySize, embedding: files.meta.model.embedding },
        layers: files.meta.model.layers,
        head: { kind: 'classification', classes: files.meta.vocabularySize },
        init: config.init,
        output: config.output,
      };
      const ours: RunResult[] = [];
      const peerRuns: PeerRun[] = [];
      for (let seed = 1; seed <= seeds; seed++) {
        const peerRun = 'skipped' in peer ? null : startPeer(peer, dir, config, seed, checkpoints);
        peerRun?.catch(() => undefined);
        ours.push(trainOurs(backend, spec, seed, files, checkpoints));
        if (peerRun !== null) peerRuns.push(await peerRun);
      }
      const oursMean = meanValidation(
        ours.map((run) => run.validation),
        checkpoints,
      );
      const pytorch =
        peerRuns.length === 0
          ? null
          : {
              runs: peerRuns,
              mean: meanValidation(peerRuns.map(peerValidation), checkpoints),
              msPerStep: mean(peerRuns.map((run) => (1000 * run.trainSeconds) / steps)),
            };
      const result = { config, ours: { runs: ours, mean: oursMean, msPerStep: mean(ours.map((run) => run.msPerStep)) }, pytorch };
      results.push(result);
      console.log(`output ${config.output}, init ${config.init}:`);
      console.log(describeRow('ours', oursMean, checkpoints, result.ours.msPerStep));
      if (pytorch !== null) console.log(describeRow('PyTorch', pytorch.mean, checkpoints, pytorch.msPerStep));
      // Written after every configuration: a long run that is stopped keeps what it measured.
      // Runs of other lengths than the default 300 steps go beside it (learning-<steps>.json).
      writeBenchResults(steps === 300 ? 'learning' : `learning-${steps}`, {
        date: new Date().toISOString(),
        spec: specPath,
        steps,
        checkpoints,
        seeds,
        backend: loaded.summary,
        peer: 'skipped' in peer ? peer.skipped : peer.description,
        load: os.loadavg(),
        data: summary,
        bigramBaseline: round4(bigram),
        results,
      });
    }
  } finally {
    backend.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) await main();
