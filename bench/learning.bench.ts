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
//                             [--source CORPUS] [--results NAME]
// --source trains the spec's model and settings on another local corpus (e.g. .lstm/data/sotu.txt);
// --results names the results file (default learning, or learning-<steps> for other lengths).
// A CSV spec (e.g. --spec examples/us-births.yaml) runs the time-series comparison of
// bench/learning-timeseries.ts instead: ours against tfjs-layers' model.fit.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import * as z from 'zod';
import { loadComputeBackend } from '@lstm-runner/backends';
import { batchForOutput, evaluateLoss, ModelActivations, type Batch, type ComputeBackend, type ModelSpec } from '@lstm-runner/lstm-core';
import { benchFlag, writeBenchResults } from './bench-results';
import { readLearningFiles, writeLearningData, type TextLearningFiles } from './learning-data';
import { compareTimeSeries } from './learning-timeseries';
import { mean, round4, trainOurs, type Config, type LearningRun, type TrainingRun } from './learning-train';
import { peerSetup, type Peer } from './peers.bench';

const ROOT = join(import.meta.dirname, '..');
const PEER_DIR = join(import.meta.dirname, 'peers');
const PYTHON = process.env['LSTM_PYTHON'] ?? '/usr/bin/python3';
const EVALUATION_BATCH = 256;

/** windows starting at `starts` -> tokens [B*T] and the class after each window [B]. */
function windowBatch(files: TextLearningFiles, starts: ArrayLike<number>): Batch<Float32Array> {
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
function bigramBaseline(files: TextLearningFiles): number {
  const V = files.vocabularySize;
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

interface Validation {
  /** Mean over every predicted position (the loss the job itself reports). */
  readonly loss: number;
  /** Mean over the last position of each window (what 'last' predicts); = loss for 'last'. */
  readonly lastPosition: number;
}

function validate(backend: ComputeBackend<Float32Array>, spec: ModelSpec, params: Float32Array, files: TextLearningFiles): Validation {
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

type RunResult = TrainingRun<Validation>;

const peerRunSchema = z.object({
  validationLoss: z.record(z.string(), z.number()),
  validationLossLastPosition: z.record(z.string(), z.number()).optional(),
  trainSeconds: z.number(),
});
type PeerRun = z.infer<typeof peerRunSchema>;

/** torch_learning.py on the same files, in a child process; resolves with its JSON line. */
function startPeer(peer: Peer, dir: string, config: Config, seed: number, checkpoints: readonly number[]): Promise<PeerRun> {
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

function meanValidation(runs: readonly Record<string, Validation>[], checkpoints: readonly number[]): Record<string, Validation> {
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

function describeRow(label: string, validation: Record<string, Validation>, checkpoints: readonly number[], msPerStep: number): string {
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
  const source = benchFlag('--source');
  const checkpoints = [...new Set([0, ...Array.from({ length: Math.floor(steps / 100) }, (_, k) => (k + 1) * 100), steps])];
  spawnSync(process.execPath, [join(ROOT, 'scripts/example-data.mjs')], { cwd: ROOT, stdio: 'inherit' });
  const dir = mkdtempSync(join(os.tmpdir(), 'lstm-bench-learning-'));
  const loaded = await loadComputeBackend(backendName, { threads: 1 });
  const backend = loaded.backend;
  try {
    const summary = await writeLearningData({ specPath, outDir: dir, steps, ...(source === undefined ? {} : { source }) });
    const files = readLearningFiles(dir);
    const csv = files.kind === 'csv';
    // Runs of other lengths than the default 300 steps go beside it (learning-<steps>.json).
    const defaultName = csv ? 'learning-timeseries' : 'learning';
    const run: LearningRun = {
      steps,
      seeds,
      checkpoints,
      configs: parseConfigs(
        benchFlag('--configs') ?? (csv ? 'last/keras,last/uniform' : 'last/keras,last/uniform,sequence/keras,sequence/uniform'),
      ),
      resultsName: benchFlag('--results') ?? (steps === 300 ? defaultName : `${defaultName}-${steps}`),
      describe: () => ({
        date: new Date().toISOString(),
        spec: specPath,
        ...(source === undefined ? {} : { source }),
        steps,
        checkpoints,
        seeds,
        backend: loaded.summary,
        load: os.loadavg(),
        data: summary,
      }),
    };
    console.log(
      `machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cpus, load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}; ours: ${loaded.summary}, 1 thread`,
    );
    console.log(
      `data: ${specPath}${source === undefined ? '' : ` on ${source}`}: ${summary.rows} rows, ${summary.validationWindows} validation windows`,
    );
    if (files.kind === 'csv') await compareTimeSeries(run, files, backend);
    else await compareText(run, files, dir, backend);
  } finally {
    backend.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Ours against PyTorch on a text spec (the header comment). */
async function compareText(run: LearningRun, files: TextLearningFiles, dir: string, backend: ComputeBackend<Float32Array>): Promise<void> {
  const { steps, seeds, checkpoints } = run;
  const bigram = bigramBaseline(files);
  const peer = process.argv.includes('--no-peer') ? { skipped: 'PyTorch skipped: --no-peer' } : peerSetup(undefined);
  console.log('skipped' in peer ? peer.skipped : `peer: PyTorch ${String(peer.description['torch'])}, 1 thread`);
  console.log(`V=${files.vocabularySize}; bigram baseline on the validation windows: ${bigram.toFixed(3)} nats/char`);
  console.log(`validation loss (nats/char) at steps ${checkpoints.join(', ')}; means of ${seeds} init seeds`);
  const results: ConfigSummary[] = [];
  for (const config of run.configs) {
    const spec: ModelSpec = {
      input: { kind: 'tokens', vocabulary: files.vocabularySize, embedding: files.meta.model.embedding },
      layers: files.meta.model.layers,
      head: { kind: 'classification', classes: files.vocabularySize },
      init: config.init,
      output: config.output,
    };
    const ours: RunResult[] = [];
    const peerRuns: PeerRun[] = [];
    const batchOf = (starts: Int32Array): Batch<Float32Array> => batchForOutput(spec, windowBatch(files, starts));
    const validateParams = (params: Float32Array): Validation => validate(backend, spec, params, files);
    const clipNorm = files.meta.training.clipNorm;
    for (let seed = 1; seed <= seeds; seed++) {
      const peerRun = 'skipped' in peer ? null : startPeer(peer, dir, config, seed, checkpoints);
      peerRun?.catch(() => undefined);
      ours.push(trainOurs({ backend, spec, seed, files, checkpoints, clipNorm, batchOf, validate: validateParams }));
      if (peerRun !== null) peerRuns.push(await peerRun);
    }
    const oursMean = meanValidation(
      ours.map((r) => r.validation),
      checkpoints,
    );
    const pytorch =
      peerRuns.length === 0
        ? null
        : {
            runs: peerRuns,
            mean: meanValidation(peerRuns.map(peerValidation), checkpoints),
            msPerStep: mean(peerRuns.map((r) => (1000 * r.trainSeconds) / steps)),
          };
    const result = { config, ours: { runs: ours, mean: oursMean, msPerStep: mean(ours.map((r) => r.msPerStep)) }, pytorch };
    results.push(result);
    console.log(`output ${config.output}, init ${config.init}:`);
    console.log(describeRow('ours', oursMean, checkpoints, result.ours.msPerStep));
    if (pytorch !== null) console.log(describeRow('PyTorch', pytorch.mean, checkpoints, pytorch.msPerStep));
    // Written after every configuration: a long run that is stopped keeps what it measured.
    writeBenchResults(run.resultsName, {
      ...run.describe(),
      peer: 'skipped' in peer ? peer.skipped : peer.description,
      bigramBaseline: round4(bigram),
      results,
    });
  }
}

if (process.argv[1] === import.meta.filename) await main();
