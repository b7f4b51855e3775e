// A compute thread of the worker: holds one compute backend, the jobs' records, dataset
// readers (segments cached on disk) and recent weight versions (by content hash), and turns
// a shard task into a loss and a gradient written to the store.
import { parentPort, workerData } from 'node:worker_threads';
import {
  BackendRegistry,
  evaluateLoss,
  lossAndGradient,
  ModelActivations,
  parameterLayout,
  registerTfjsBackends,
  type ComputeBackend,
} from '@lstm-runner/lstm-core';
import { openDataset, type DatasetReader, type ShardPlan } from '@lstm-runner/data';
import { decodeFloat32Vector, encodeFloat32Vector, gradientKey, type GradientJobData, type GradientJobResult } from '@lstm-runner/protocol';
import { getVerified, openStore, sha256Hex, type ObjectStore } from '@lstm-runner/storage';
import { readJobRecord, type JobRecord } from './job-files';
import { shardPlanOf } from './job-plan';
import type { ShardComputeRequest, ShardComputeResponse, ShardThreadOptions } from './shard-thread-protocol';

interface JobContext {
  readonly record: JobRecord;
  readonly reader: DatasetReader;
  readonly plan: ShardPlan;
}

/** Weight versions kept per thread: the current step's and the previous one's. */
const WEIGHTS_CACHE_SIZE = 3;
/** Jobs whose readers stay open: several jobs can share the workers. */
const JOB_CACHE_SIZE = 4;

class ShardComputer {
  private readonly jobs = new Map<string, Promise<JobContext>>();
  private readonly weights = new Map<string, Promise<Float32Array>>();
  // The activations and the gradient, reused from shard to shard (the math between zeroing
  // and encoding never awaits): fresh arrays each shard made V8 run a full mark-compact every
  // few shards.
  private readonly activations: ModelActivations<Float32Array>;

  constructor(
    private readonly store: ObjectStore,
    private readonly backend: ComputeBackend<Float32Array>,
    private readonly cacheDir: string,
  ) {
    this.activations = new ModelActivations((length) => backend.allocate(length));
  }

  private job(jobId: string): Promise<JobContext> {
    let context = this.jobs.get(jobId);
    if (context === undefined) {
      context = (async () => {
        const record = await readJobRecord(this.store, jobId);
        const reader = await openDataset(this.store, record.datasetId, { cacheDir: this.cacheDir, window: record.spec.data.window });
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
      weights = getVerified(this.store, key, sha256).then(decodeFloat32Vector);
      weights.catch(() => this.weights.delete(sha256));
      remember(this.weights, sha256, weights, WEIGHTS_CACHE_SIZE);
    }
    return weights;
  }

  async compute(task: GradientJobData): Promise<GradientJobResult> {
    const started = performance.now();
    const { record, reader, plan } = await this.job(task.jobId);
    const windows =
      task.kind === 'train'
        ? plan.shardWindows({ epoch: task.epoch, stepInEpoch: task.stepInEpoch, shard: task.shard })
        : plan.validationShardWindows(task.shard);
    const batch = await reader.assembleBatch(windows, task.kind === 'train' ? 'train' : 'validation');
    const params = await this.loadWeights(task.weightsKey, task.weightsSha256);
    if (task.kind === 'validate') {
      return { ...evaluateLoss(this.backend, record.model, params, batch, this.activations), computeMs: performance.now() - started };
    }
    const grads = this.activations.array('parameterGradient', parameterLayout(record.model).size).fill(0);
    const { loss, count } = lossAndGradient(this.backend, record.model, params, batch, grads, this.activations);
    const bytes = encodeFloat32Vector(grads);
    const key = gradientKey(task.jobId, task.generation, task.step, task.shard);
    await this.store.put(key, bytes);
    return { gradientKey: key, gradientSha256: sha256Hex(bytes), loss, count, computeMs: performance.now() - started };
  }
}

/** Map as a small LRU: re-inserting moves a key to the back; the front is evicted. */
function remember<V>(map: Map<string, V>, key: string, value: V, capacity: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > capacity) map.delete(map.keys().next().value!);
}

async function main(): Promise<void> {
  const options = workerData as ShardThreadOptions;
  const port = parentPort!;
  const store = await openStore(options.storeUrl, options.s3Endpoint === undefined ? {} : { endpoint: options.s3Endpoint });
  const registry = registerTfjsBackends(new BackendRegistry());
  const loaded = await registry.load(options.profile.backend);
  const computer = new ShardComputer(store, loaded.backend, options.cacheDir);
  // A testing aid for straggler handling: every shard of this process takes this much longer.
  const delayMs = Number(process.env['LSTM_WORKER_TEST_DELAY_MS'] ?? 0);
  port.postMessage({ type: 'ready', description: loaded.summary });
  port.on('message', (request: ShardComputeRequest) => {
    void (async () => {
      let response: ShardComputeResponse;
      try {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        response = { ok: true, requestId: request.requestId, ...(await computer.compute(request.task)) };
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        response = { ok: false, requestId: request.requestId, error: err.message, errorName: err.name };
      }
      port.postMessage({ type: 'result', response });
    })();
  });
}

await main();
