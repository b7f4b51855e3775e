// What a compute thread does with a shard task: it holds one compute backend, the jobs'
// records, dataset readers (segments cached on disk) and recent weight versions (by content
// hash), and turns a task into a loss and, for training, a gradient written to the store.
import {
  batchForOutput,
  evaluateLoss,
  lossAndGradient,
  ModelActivations,
  parameterLayout,
  type ComputeBackend,
} from '@lstm-runner/lstm-core';
import { openDataset, type DatasetReader, type ShardPlan } from '@lstm-runner/data';
import { readJobRecord, shardPlanOf, type JobRecord } from '@lstm-runner/job-store';
import { encodeFloat32Vector, gradientKey, viewFloat32Vector, type GradientJobData } from '@lstm-runner/protocol';
import { checksumOf, getVerified, type ObjectStore } from '@lstm-runner/storage';
import type { ShardComputeResult } from './compute-pool';
import type { SegmentLookups } from './compute-thread-messages';
import { reduceGradients } from './gradient-reducer';

interface JobContext {
  readonly record: JobRecord;
  readonly reader: DatasetReader;
  readonly plan: ShardPlan;
}

/** Weight versions kept per thread: the current step's, the previous one's (a straggler's duplicate) and one spare. */
const WEIGHTS_CACHE_SIZE = 3;
/** Jobs whose readers stay open: several jobs can share the workers. */
const JOB_CACHE_SIZE = 4;

export class ShardComputer {
  private readonly jobs = new Map<string, Promise<JobContext>>();
  private readonly weights = new Map<string, Promise<Float32Array>>();
  // The activations and the gradient, reused from shard to shard (the math between zeroing
  // and encoding never awaits): fresh arrays each shard made V8 run a full mark-compact every
  // few shards.
  private readonly activations: ModelActivations<Float32Array>;
  private lookups = { memory: 0, disk: 0, store: 0 };

  constructor(
    private readonly store: ObjectStore,
    private readonly backend: ComputeBackend<Float32Array>,
    private readonly cacheDir: string,
    /** The bound of cacheDir on disk; default DEFAULT_CACHE_MAX_BYTES. */
    private readonly cacheMaxBytes?: number,
  ) {
    this.activations = new ModelActivations((length) => backend.allocate(length));
  }

  private job(jobId: string): Promise<JobContext> {
    let context = this.jobs.get(jobId);
    if (context === undefined) {
      context = (async () => {
        const record = await readJobRecord(this.store, jobId);
        const reader = await openDataset(this.store, record.datasetId, {
          cacheDir: this.cacheDir,
          window: record.spec.data.window,
          ...(this.cacheMaxBytes === undefined ? {} : { cacheMaxBytes: this.cacheMaxBytes }),
        });
        return { record, reader, plan: shardPlanOf(record, reader.layout) };
      })();
      context.catch(() => this.jobs.delete(jobId));
      remember(this.jobs, jobId, context, JOB_CACHE_SIZE);
    }
    return context;
  }

  private loadWeights(key: string, sha256: string): Promise<Float32Array> {
    let weights = this.weights.get(sha256);
    if (weights === undefined) {
      // A view of the bytes just read (this thread owns them, and only reads the weights): no copy.
      weights = getVerified(this.store, key, sha256).then((bytes) => viewFloat32Vector(bytes));
      weights.catch(() => this.weights.delete(sha256));
      remember(this.weights, sha256, weights, WEIGHTS_CACHE_SIZE);
    }
    return weights;
  }

  /** The segment lookups of the shards computed since the last call. */
  takeSegmentLookups(): SegmentLookups {
    const taken = this.lookups;
    this.lookups = { memory: 0, disk: 0, store: 0 };
    return taken;
  }

  async compute(task: GradientJobData): Promise<ShardComputeResult> {
    if (task.kind === 'reduce') return reduceGradients(this.store, task);
    const started = performance.now();
    const { record, reader, plan } = await this.job(task.jobId);
    const windows =
      task.kind === 'train'
        ? plan.shardWindows({ epoch: task.epoch, stepInEpoch: task.stepInEpoch, shard: task.shard })
        : plan.validationShardWindows(task.shard);
    const before = reader.cacheStats();
    // A sequence model learns the next character at every position (the spec's horizon is 1).
    const batch = batchForOutput(record.model, await reader.assembleBatch(windows, task.kind === 'train' ? 'train' : 'validation'));
    const after = reader.cacheStats();
    this.lookups.memory += after.memoryHits - before.memoryHits;
    this.lookups.disk += after.diskHits - before.diskHits;
    this.lookups.store += after.misses - before.misses;
    const params = await this.loadWeights(task.weightsKey, task.weightsSha256);
    if (task.kind === 'validate') {
      const { loss, count } = evaluateLoss(this.backend, record.model, params, batch, this.activations);
      return { kind: 'validate', loss, count, computeMs: performance.now() - started };
    }
    const grads = this.activations.array('parameterGradient', parameterLayout(record.model).size).fill(0);
    const { loss, count } = lossAndGradient(this.backend, record.model, params, batch, grads, this.activations);
    const bytes = encodeFloat32Vector(grads);
    const key = gradientKey(task.jobId, task.generation, task.step, task.shard);
    await this.store.put(key, bytes);
    const gradientChecksum = checksumOf(task.checksum ?? 'sha256', bytes);
    return { kind: 'train', gradientKey: key, gradientChecksum, loss, count, computeMs: performance.now() - started };
  }
}

/** Map as a small LRU: re-inserting moves a key to the back; the front is evicted. */
function remember<V>(map: Map<string, V>, key: string, value: V, capacity: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > capacity) map.delete(map.keys().next().value!);
}
