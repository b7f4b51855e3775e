// The training loop without processes or Redis: an in-process ShardRunner computes shards with
// the worker's own ShardComputer on the reference backend and hands results back in the ways
// a queue can (out of order, twice, failed), against an in-memory store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadManifest, WindowLayout } from '@lstm-runner/data';
import {
  readCheckpoint,
  readJobPointer,
  readJobRecord,
  readMetrics,
  readModelPointer,
  shardPlanOf,
  writeJobRecord,
} from '@lstm-runner/job-store';
import { createReferenceBackend, scheduledLearningRate } from '@lstm-runner/lstm-core';
import { jobSpecKey, validateJobSpec, type GradientJobData, type GradientJobResult, type JobSpec } from '@lstm-runner/protocol';
import { MemoryStore } from '../../../../test-support/dataset-fixtures';
import { ShardFailedError } from '../errors/shard-failed-error';
import { StopRequested } from '../errors/stop-requested';
import { createJob } from '../operations/job-submission';
import { ShardComputer } from '../worker/shard-computer';
import { RunRecorder } from './run-recorder';
import { restoreRun } from './run-state';
import type { ShardRunner, ShardTask } from './shard-runner';
import { TrainingLoop, type JobOutcome } from './training-loop';

const cacheDir = mkdtempSync(join(tmpdir(), 'loop-cache-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** 60 rows of two waves: 37 training windows (5 steps an epoch of 2 shards: batch 8, shards of 4) and 13 validation windows. */
function csvBytes(): Uint8Array {
  const rows = ['x,y'];
  for (let i = 0; i < 60; i++) rows.push(`${Math.sin(i / 3).toFixed(4)},${Math.cos(i / 5).toFixed(4)}`);
  return new TextEncoder().encode(rows.join('\n') + '\n');
}

const spec = validateJobSpec(
  {
    name: 'loop',
    data: { source: 'waves.csv', format: 'csv', csv: { features: ['x', 'y'], targets: ['y'] }, window: { lookBack: 5 }, validation: 0.3 },
    model: { layers: [6] },
    training: {
      epochs: 2,
      batchSize: 8,
      shardSize: 4,
      checkpointEvery: 3,
      validateEvery: 4,
      clipNorm: 1,
      optimizer: { learningRate: 0.01 },
    },
  },
  'loop.yaml',
);

/**
 * Validated every step, Adam 0.05 warmed up over 2 steps then cosine-decayed: the validation
 * loss is lowest at step 4 (0.8332, a hair below step 3's 0.8340) and rises from step 5 on;
 * with minDelta 0.01 step 3 is the last improvement, so 3 stale validations end the run at
 * step 6, and restoreBest ends it with step 4's weights.
 */
const stoppingSpec = validateJobSpec(
  {
    ...structuredClone(spec),
    training: {
      ...spec.training,
      validateEvery: 1,
      optimizer: { type: 'adam', learningRate: 0.05 },
      learningRateSchedule: { warmupSteps: 2, decay: 'cosine', finalFactor: 0.1 },
      earlyStopping: { patience: 3, minDelta: 0.01 },
    },
  },
  'stopping.yaml',
);

/** Counts reads of gradient objects. */
class CountingStore extends MemoryStore {
  gradientReads = 0;

  override async get(key: string): Promise<Uint8Array> {
    if (key.includes('/grads/')) this.gradientReads += 1;
    return super.get(key);
  }
}

type Delivery = (
  tasks: readonly ShardTask<GradientJobData>[],
  results: GradientJobResult[],
  onResult: (index: number, result: GradientJobResult) => void,
) => void;

/** Computes every task in process, then delivers results as `deliver` says; `fail` picks a task to fail for good. */
class InProcessShards implements ShardRunner {
  readonly computer: ShardComputer;
  calls = 0;
  /** The kind of every task run. */
  readonly kinds: string[] = [];

  constructor(
    store: MemoryStore,
    private readonly deliver: Delivery,
    private readonly fail: (task: ShardTask<GradientJobData>) => boolean = () => false,
  ) {
    this.computer = new ShardComputer(store, createReferenceBackend('float32'), cacheDir);
  }

  async run<D extends object, R>(
    tasks: readonly ShardTask<D>[],
    check: () => Promise<void>,
    onResult?: (index: number, result: R) => void,
    onEnqueued?: () => void,
  ): Promise<R[]> {
    this.calls += 1;
    await check();
    onEnqueued?.();
    const gradientTasks = tasks as unknown as readonly ShardTask<GradientJobData>[];
    const failing = gradientTasks.find((task) => this.fail(task));
    if (failing !== undefined) throw new ShardFailedError(failing.taskId, failing.shard, 3, 'boom');
    const results: GradientJobResult[] = [];
    for (const task of gradientTasks) {
      this.kinds.push(task.data.kind);
      results.push(await this.computer.compute(task.data));
    }
    this.deliver(gradientTasks, results, (index, result) => onResult?.(index, result as R));
    return results as R[];
  }
}

const inOrder: Delivery = (_tasks, results, onResult) => results.forEach((result, index) => onResult(index, result));
const reversedAndTwice: Delivery = (_tasks, results, onResult) => {
  for (let index = results.length - 1; index >= 0; index--) onResult(index, results[index]!);
  // A straggler's duplicate finishing after the original: the same result again.
  results.forEach((result, index) => onResult(index, result));
};

interface LoopRun {
  readonly store: CountingStore;
  readonly jobId: string;
  readonly outcome: JobOutcome;
  readonly shards: InProcessShards;
}

/** 37 training windows: a step of 18 shards of 2 windows (a tree of nodes of 8, 8 and 2 shards and a root), then one of 1 shard. */
const wideSpec = validateJobSpec(
  { ...spec, training: { ...spec.training, epochs: 1, batchSize: 36, shardSize: 2, validateEvery: undefined } },
  'wide.yaml',
);

async function runLoop(options: {
  deliver: Delivery;
  fail?: (task: ShardTask<GradientJobData>) => boolean;
  stopAtStep?: number;
  check?: () => Promise<void>;
  spec?: JobSpec;
  /** Resume this run's job from its pointer, as the next generation and owner. */
  resume?: LoopRun;
  /** Rewrites the record as an earlier release wrote it: no reductionVersion (a flat sum). */
  earlierRecord?: boolean;
}): Promise<LoopRun> {
  const store = options.resume?.store ?? new CountingStore();
  const jobId = options.resume?.jobId ?? (await createTestJob(store, options.spec ?? spec));
  const generation = options.resume === undefined ? 1 : 2;
  if (options.earlierRecord === true) {
    const { reductionVersion: _dropped, ...earlier } = await readJobRecord(store, jobId);
    await writeJobRecord(store, earlier);
  }
  const record = await readJobRecord(store, jobId);
  const manifest = await loadManifest(store, record.datasetId);
  const plan = shardPlanOf(record, new WindowLayout(manifest.series, record.spec.data.window, manifest.source.name));
  const restored = await restoreRun(store, record, await readJobPointer(store, record.id));
  const recorder = new RunRecorder(
    { store, record, plan, generation, fence: { token: generation, assertHeld: async () => undefined }, keepWeights: 2 },
    restored,
  );
  await recorder.markRunning();
  const weightsSha256 = await recorder.open(restored.training);
  const shards = new InProcessShards(store, options.deliver, options.fail);
  const loop = new TrainingLoop(
    {
      store,
      record,
      plan,
      generation,
      shards,
      recorder,
      check: options.check ?? (async () => undefined),
      ...(options.stopAtStep === undefined ? {} : { stopAtStep: options.stopAtStep }),
      maxValidationShards: 64,
      log: () => undefined,
    },
    restored.training,
    weightsSha256,
  );
  return { store, jobId: record.id, outcome: await loop.run(), shards };
}

async function createTestJob(store: CountingStore, jobSpec: JobSpec): Promise<string> {
  const created = await createJob({
    store,
    spec: jobSpec,
    source: {
      name: 'waves.csv',
      stream: (async function* () {
        yield csvBytes();
      })(),
    },
    profile: { backend: 'reference', threads: 1 },
  });
  return created.record.id;
}

async function finalWeights(run: LoopRun): Promise<Float32Array> {
  const pointer = await readJobPointer(run.store, run.jobId);
  return (await readCheckpoint(run.store, pointer!.checkpoint!.prefix)).weights;
}

describe('TrainingLoop over an in-process shard runner', () => {
  it('trains a job to completion: checkpoints, metrics, validation and the published model', async () => {
    const run = await runLoop({ deliver: inOrder });
    expect(run.outcome).toEqual({ jobId: run.jobId, state: 'completed', step: 10 });
    const pointer = await readJobPointer(run.store, run.jobId);
    expect(pointer).toMatchObject({ state: 'completed', generation: 1, checkpoint: { step: 10 } });
    const metrics = await readMetrics(run.store, run.jobId);
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    // Validated every 4 steps and at each epoch's end (5 steps an epoch).
    expect(metrics.filter((m) => m.validationLoss !== null).map((m) => m.step)).toEqual([4, 5, 8, 10]);
    expect(metrics.length).toBeGreaterThan(0);
    expect(metrics.every((m) => Number.isFinite(m.trainLoss))).toBe(true);
    // The coordinator's own time is measured apart from the wait for shards.
    expect(metrics.every((m) => m.serialMs !== undefined && Number.isFinite(m.serialMs) && m.serialMs >= 0)).toBe(true);
    expect(run.store.objects.has(`models/loop/latest.json`)).toBe(true);
    // Gradients are pruned as the run goes, and weight versions but the last two.
    const keys = [...run.store.objects.keys()];
    expect(keys.filter((key) => key.includes('/grads/'))).toEqual([]);
    expect(keys.filter((key) => key.includes('/weights/')).sort()).toEqual([
      expect.stringMatching(/weights\/0000000009-t1\.bin$/),
      expect.stringMatching(/weights\/0000000010-t1\.bin$/),
    ]);
    // The workers' dataset readers counted where each segment came from.
    const lookups = run.shards.computer.takeSegmentLookups();
    expect(lookups.memory + lookups.disk + lookups.store).toBeGreaterThan(0);
    expect(lookups.disk + lookups.store).toBeGreaterThanOrEqual(1);
    expect(run.shards.computer.takeSegmentLookups()).toEqual({ memory: 0, disk: 0, store: 0 });
  });

  it('keeps the shuffle a job was created with: a resume refuses a checkpoint of another version', async () => {
    const run = await runLoop({ deliver: inOrder });
    const record = await readJobRecord(run.store, run.jobId);
    expect(record.shuffle).toMatchObject({ version: 2 });
    const pointer = await readJobPointer(run.store, run.jobId);
    expect((await readCheckpoint(run.store, pointer!.checkpoint!.prefix)).manifest.shuffleVersion).toBe(2);
    await expect(restoreRun(run.store, record, pointer)).resolves.toMatchObject({ training: { step: 10 } });
    // A record of an earlier release has no shuffle: version 1.
    const { shuffle: _dropped, ...earlier } = record;
    await expect(restoreRun(run.store, earlier, pointer)).rejects.toThrow('shuffle version 2; the job shuffles with version 1');
  });

  it('gives the same bits when results come out of order and twice, fetching each gradient once', async () => {
    const clean = await runLoop({ deliver: inOrder });
    const messy = await runLoop({ deliver: reversedAndTwice });
    expect(messy.outcome.state).toBe('completed');
    expect(await finalWeights(messy)).toEqual(await finalWeights(clean));
    expect((await readMetrics(messy.store, messy.jobId)).map((m) => m.step)).toEqual(
      (await readMetrics(clean.store, clean.jobId)).map((m) => m.step),
    );
    // 10 steps of 2 training shards: one read each, duplicates or not.
    expect(messy.store.gradientReads).toBe(20);
    expect(clean.store.gradientReads).toBe(20);
  });

  it('fails the job when a shard fails for good, naming the step and the shard, and keeps the last checkpoint', async () => {
    const run = await runLoop({ deliver: inOrder, fail: (task) => task.data.kind === 'train' && task.data.step === 4 && task.shard === 1 });
    expect(run.outcome).toEqual({
      jobId: run.jobId,
      state: 'failed',
      step: 4,
      message: `job ${run.jobId} step 4 shard 1 failed after 3 attempts: boom`,
    });
    const pointer = await readJobPointer(run.store, run.jobId);
    // Step 4 was validated and the best so far: its checkpoint is the last.
    expect(pointer).toMatchObject({
      state: 'failed',
      checkpoint: { step: 4 },
      message: `job ${run.jobId} step 4 shard 1 failed after 3 attempts: boom`,
    });
    expect(run.store.objects.has('models/loop/latest.json')).toBe(false);
  });

  it('checkpoints and leaves the job running when asked to stop, and cancels when asked to', async () => {
    const stopped = await runLoop({ deliver: inOrder, stopAtStep: 5 });
    expect(stopped.outcome).toMatchObject({ state: 'running', step: 5 });
    expect(await readJobPointer(stopped.store, stopped.jobId)).toMatchObject({ state: 'running', checkpoint: { step: 5 } });

    let checks = 0;
    const cancelAtThirdStep = async (): Promise<void> => {
      checks += 1;
      if (checks === 5) throw new StopRequested(true);
    };
    const cancelled = await runLoop({ deliver: inOrder, check: cancelAtThirdStep });
    expect(cancelled.outcome.state).toBe('cancelled');
    expect(await readJobPointer(cancelled.store, cancelled.jobId)).toMatchObject({
      state: 'cancelled',
      message: `cancelled at step ${cancelled.outcome.step}`,
    });
  });

  it('records the scheduled learning rate of every step; without a schedule, the optimizer rate', async () => {
    const plain = await runLoop({ deliver: inOrder });
    expect((await readMetrics(plain.store, plain.jobId)).map((m) => m.learningRate)).toEqual(Array(10).fill(0.01));
    // The best step's checkpoint is named in the state and exists (best.json points at it).
    const best = await readModelPointer(plain.store, 'loop', 'best');
    await expect(readCheckpoint(plain.store, best!.checkpoint)).resolves.toMatchObject({ manifest: { step: best!.step } });

    const scheduled = await runLoop({ deliver: inOrder, spec: stoppingSpec });
    const rates = (await readMetrics(scheduled.store, scheduled.jobId)).map((m) => m.learningRate);
    expect(rates).toEqual(rates.map((_, step) => scheduledLearningRate(0.05, stoppingSpec.training.learningRateSchedule, step, 10)));
    expect(rates.slice(0, 3)).toEqual([0.025, 0.05, 0.05]);
  });

  it("stops early when the validation loss stalls and ends with the best step's checkpoint", async () => {
    const run = await runLoop({ deliver: inOrder, spec: stoppingSpec });
    const message =
      'stopped early at step 6 of 10: the validation loss did not improve by more than 0.01 in 3 validations; ' +
      'best step 4 (validation loss 0.8332), whose weights the job ends with';
    expect(run.outcome).toEqual({ jobId: run.jobId, state: 'completed', step: 6, message });
    const pointer = await readJobPointer(run.store, run.jobId);
    expect(pointer).toMatchObject({ state: 'completed', published: true, message, checkpoint: { step: 4 } });
    const { manifest } = await readCheckpoint(run.store, pointer!.checkpoint!.prefix);
    const metrics = await readMetrics(run.store, run.jobId);
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    // Step 4 beat step 3 by less than minDelta: the lowest loss, but a stale validation.
    expect(manifest.validation).toMatchObject({
      bestStep: 4,
      bestLoss: metrics[3]!.validationLoss,
      earlyStopping: { referenceLoss: metrics[2]!.validationLoss, staleValidations: 1 },
    });
    // The model's latest and best pointers and its version are the best step's checkpoint.
    const latest = await readModelPointer(run.store, 'loop', 'latest');
    expect(latest).toMatchObject({ step: 4, checkpoint: pointer!.checkpoint!.prefix, validationLoss: manifest.validation.bestLoss });
    expect(await readModelPointer(run.store, 'loop', 'best')).toMatchObject({ step: 4, checkpoint: pointer!.checkpoint!.prefix });
  });

  it.each([5, 6])('resumed after a stop at step %i, stops at the same step with the same bits', async (stopAtStep) => {
    const whole = await runLoop({ deliver: inOrder, spec: stoppingSpec });
    const first = await runLoop({ deliver: inOrder, spec: stoppingSpec, stopAtStep });
    expect(first.outcome).toMatchObject({ state: 'running', step: stopAtStep });
    const resumed = await runLoop({ deliver: inOrder, resume: first });
    expect(resumed.outcome).toEqual({ ...whole.outcome, jobId: first.jobId });
    expect(await finalWeights(resumed)).toEqual(await finalWeights(whole));
    const history = async (run: LoopRun): Promise<unknown[]> =>
      (await readMetrics(run.store, run.jobId)).map(({ step, trainLoss, validationLoss, learningRate }) => ({
        step,
        trainLoss,
        validationLoss,
        learningRate,
      }));
    expect(await history(resumed)).toEqual(await history(whole));
  });

  it('refuses early stopping on data whose validation rows hold no window', async () => {
    // A fraction of 60 rows that rounds to no validation row (the spec refuses 0 itself).
    const tiny = validateJobSpec({ ...structuredClone(stoppingSpec), data: { ...stoppingSpec.data, validation: 1e-9 } }, 'tiny.yaml');
    await expect(createTestJob(new CountingStore(), tiny)).rejects.toThrow(
      'training.earlyStopping needs validation windows; data.validation 1e-9 leaves none in this data',
    );
  });
});

describe('TrainingLoop with more than 8 shards a step', () => {
  it("sums a new job (reduction version 2) in the workers' tree: the same bits whatever order results come in", async () => {
    const clean = await runLoop({ deliver: inOrder, spec: wideSpec });
    const messy = await runLoop({ deliver: reversedAndTwice, spec: wideSpec });
    expect(clean.outcome.state).toBe('completed');
    expect(clean.outcome.step).toBe(2);
    expect((await readJobRecord(clean.store, clean.jobId)).reductionVersion).toBe(2);
    // The step of 18 shards runs 4 reduce tasks; the step of one shard none.
    expect(clean.shards.kinds.filter((kind) => kind === 'reduce')).toHaveLength(4);
    expect(await finalWeights(messy)).toEqual(await finalWeights(clean));
    // The reduce tasks read 18 + 3 sums, the coordinator the root alone; then the lone shard.
    expect(clean.store.gradientReads).toBe(18 + 3 + 1 + 1);
    expect(messy.store.gradientReads).toBe(18 + 3 + 1 + 1);
    const pointer = await readJobPointer(clean.store, clean.jobId);
    expect((await readCheckpoint(clean.store, pointer!.checkpoint!.prefix)).manifest.reductionVersion).toBe(2);
    // The shards' and the nodes' sums are pruned like gradients.
    expect([...clean.store.objects.keys()].filter((key) => key.includes('/grads/'))).toEqual([]);
  });

  it('keeps summing a job of an earlier release flat on the coordinator (reduction version 1)', async () => {
    const run = await runLoop({ deliver: inOrder, spec: wideSpec, earlierRecord: true });
    expect(run.outcome.state).toBe('completed');
    expect(run.shards.kinds).not.toContain('reduce');
    expect(run.store.gradientReads).toBe(18 + 1);
    const tree = await runLoop({ deliver: inOrder, spec: wideSpec });
    // A flat float64 sum and a tree of float32 nodes round differently.
    expect(await finalWeights(run)).not.toEqual(await finalWeights(tree));
  });

  it('refuses to resume from a checkpoint of another reduction version, and a record of an unknown one', async () => {
    const run = await runLoop({ deliver: inOrder, spec: wideSpec });
    const record = await readJobRecord(run.store, run.jobId);
    const pointer = await readJobPointer(run.store, run.jobId);
    const { reductionVersion: _dropped, ...earlier } = record;
    await expect(restoreRun(run.store, earlier, pointer)).rejects.toThrow('reduction version 2; the job sums its gradients with version 1');
    await run.store.put(jobSpecKey(run.jobId), JSON.stringify({ ...record, reductionVersion: 3 }));
    await expect(readJobRecord(run.store, run.jobId)).rejects.toThrow('reductionVersion');
  });

  it('fails the job when a reduce task fails for good', async () => {
    const run = await runLoop({ deliver: inOrder, spec: wideSpec, fail: (task) => task.data.kind === 'reduce' && task.shard === 3 });
    expect(run.outcome).toMatchObject({
      state: 'failed',
      step: 0,
      message: `job ${run.jobId} step 0 reduce node 3 failed after 3 attempts: boom`,
    });
  });
});
