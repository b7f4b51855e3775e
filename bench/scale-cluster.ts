// Scale by simulation (issue 16): the real Coordinator (lease, dispatcher, training loop,
// gradient sum, Adam, weights writes) against a real private redis-server and a real local
// store, with N simulated workers in a child process (bench/scale-cluster/simulated-workers.ts)
// that take shard jobs from the real queue and return a precomputed gradient of the model's
// size after a fixed compute delay, and sum the reduce tasks of reduction version 2 for real.
// One shard per worker per step.
//
// What one call measures, per step (medians over the measured steps):
//   - the coordinator's serial time (the metric records' serialMs: checks, dispatch, the
//     gradients not yet in, the sum, the optimizer, the weights write) and the step time;
//   - the coordinator's Redis commands and round trips (a counting proxy in front of Redis);
//   - the bytes and requests through the store, the coordinator's and the workers';
//   - with `blobRedisUrl`, per-step weights and gradients go through that (separate) Redis.
// With `s3Model`, every store request takes as long as bench/scale-cluster/latency-store.ts
// says S3 would (per-request latency, throughput, AWS's per-prefix request rates).
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parameterLayout } from '@lstm-runner/lstm-core';
import { writeJobRecord } from '@lstm-runner/job-store';
import { validateJobSpec } from '@lstm-runner/protocol';
import { openStore, type ObjectStore } from '@lstm-runner/storage';
import { Coordinator, createJob, type StepProgress } from '@lstm-runner/runner';
import { median } from './bench-results';
import { MeasuredStore, S3_MODEL, type StoreCounts } from './scale-cluster/latency-store';
import { RedisBlobStore, RoutingStore } from './scale-cluster/redis-blob-store';
import { RedisCountingProxy, type RedisCounts } from './scale-cluster/redis-counter';
import type { ChildMessage, ParentMessage, SimulatedWorkersConfig } from './scale-cluster/simulated-workers';

/** LSTM hidden sizes giving about 120 K and 5 M parameters (E=32, a 28-character vocabulary). */
export const MODEL_HIDDEN = { '120k': 155, '5m': 1100 } as const;
export type ModelSize = keyof typeof MODEL_HIDDEN;

export interface ClusterScaleOptions {
  readonly workers: number;
  readonly model: ModelSize;
  readonly computeDelayMs: number;
  /** A real redis-server for the queue (the coordinator talks to it through a counting proxy). */
  readonly redisUrl: string;
  /** Per-step objects through this Redis instead of the store; null: the store. */
  readonly blobRedisUrl: string | null;
  readonly s3Model: boolean;
  readonly warmupSteps: number;
  readonly steps: number;
  /** 1: the coordinator sums every shard; 2: beyond 8 shards, the workers sum a tree. */
  readonly reductionVersion: 1 | 2;
}

export interface ClusterScaleResult {
  readonly workers: number;
  readonly reductionVersion: 1 | 2;
  readonly model: ModelSize;
  readonly parameters: number;
  readonly transport: 'store' | 'redis';
  readonly s3Model: boolean;
  readonly computeDelayMs: number;
  readonly steps: number;
  readonly serialMs: number;
  readonly stepMs: number;
  readonly redisCommands: number;
  readonly redisRoundTrips: number;
  readonly coordinatorStoreRequests: number;
  readonly coordinatorStoreMB: number;
  readonly workersStoreRequests: number;
  readonly workersStoreMB: number;
  readonly blobRedisMB: number;
}

const WINDOWS_PER_SHARD = 2;

/** A deterministic text of 28 characters (a-z, space, full stop). */
function corpus(characters: number): string {
  let text = '';
  let state = 12345;
  while (text.length < characters) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const length = 2 + (state % 7);
    for (let i = 0; i < length; i++) text += String.fromCharCode(97 + (((state >> (3 * i)) + i * 7) % 26));
    text += state % 11 === 0 ? '. ' : ' ';
  }
  return text;
}

function specFor(options: ClusterScaleOptions, source: string) {
  return validateJobSpec(
    {
      name: `scale-${options.workers}-${options.model}`,
      data: { source, format: 'text', text: { lowercase: true }, window: { lookBack: 10 }, validation: 0.02 },
      model: { embedding: 32, layers: [MODEL_HIDDEN[options.model]] },
      training: {
        epochs: 1,
        batchSize: options.workers * WINDOWS_PER_SHARD,
        shardSize: WINDOWS_PER_SHARD,
        seed: 1,
        clipNorm: 5,
        checkpointEvery: 100_000,
        optimizer: { type: 'adam', learningRate: 0.001 },
        profile: { backend: 'simulated', threads: 1 },
      },
    },
    'scale.yaml',
  );
}

/** The simulated workers' child process; resolves once they all listen on the queue. */
async function startWorkers(config: SimulatedWorkersConfig) {
  const child = fork(join(import.meta.dirname, 'scale-cluster/simulated-workers.ts'), ['--simulated-workers', JSON.stringify(config)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = (): Promise<ChildMessage> => new Promise((resolve) => child.once('message', (message) => resolve(message as ChildMessage)));
  const ask = async (message: ParentMessage): Promise<ChildMessage> => {
    const reply = next();
    child.send(message);
    return reply;
  };
  await next();
  return {
    counts: async () => {
      const reply = await ask({ type: 'counts' });
      if (reply.type !== 'counts') throw new Error('simulated workers: unexpected reply');
      return reply;
    },
    close: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'close' } satisfies ParentMessage);
      await exited;
    },
  };
}

const requestsOf = (counts: StoreCounts): number => Object.values(counts.requests).reduce((sum, n) => sum + n, 0);
const mb = (bytes: number): number => Math.round(bytes / 1e4) / 100;

interface StepCounts {
  readonly redis: RedisCounts;
  readonly store: StoreCounts;
}

/** Runs warmupSteps + steps steps of one configuration and returns its per-step figures. */
export async function runClusterScale(options: ClusterScaleOptions): Promise<ClusterScaleResult> {
  const dir = mkdtempSync(join(tmpdir(), 'lstm-scale-'));
  const storeDir = join(dir, 'store');
  const corpusFile = join(dir, 'corpus.txt');
  const windows = options.workers * WINDOWS_PER_SHARD * (options.warmupSteps + options.steps + 2);
  writeFileSync(corpusFile, corpus(Math.ceil((windows + 20) / 0.98) + 200));
  const redisTarget = new URL(options.redisUrl);
  const proxy = await RedisCountingProxy.start({ host: redisTarget.hostname, port: Number(redisTarget.port) });
  const measured = new MeasuredStore(openStore(storeDir), options.s3Model ? S3_MODEL : null);
  const blob = options.blobRedisUrl === null ? null : new RedisBlobStore(options.blobRedisUrl);
  const store: ObjectStore = blob === null ? measured : new RoutingStore(measured, blob);
  const prefix = `scale${options.workers}${options.model}${Date.now() % 100000}`;
  const profile = { backend: 'simulated', threads: 1 };
  const created = await createJob({ store, spec: specFor(options, corpusFile), source: { name: 'corpus.txt', path: corpusFile }, profile });
  if (options.reductionVersion === 1) {
    // A record as releases before reduction version 2 wrote it.
    const { reductionVersion: _dropped, ...earlier } = created.record;
    await writeJobRecord(store, earlier);
  }
  const parameters = parameterLayout(created.record.model).size;
  const workers = await startWorkers({
    workers: options.workers,
    redisUrl: options.redisUrl,
    prefix,
    profile,
    storeDir,
    s3Model: options.s3Model,
    blobRedisUrl: options.blobRedisUrl,
    parameters,
    computeDelayMs: options.computeDelayMs,
    windowsPerShard: WINDOWS_PER_SHARD,
  });
  const perStep: { progress: StepProgress; counts: StepCounts }[] = [];
  let workerCountsReset: Promise<unknown> = Promise.resolve();
  const coordinator = new Coordinator({
    store,
    redisUrl: proxy.url,
    prefix,
    workerWatch: { noticeAfterMs: 1e9 },
    // Long: on a 2-core machine shared with other work, a 15 s lease was lost once (5 M, 1 worker).
    lease: { ttlMs: 120_000, renewEveryMs: 10_000 },
    onProgress: (progress) => {
      perStep.push({ progress, counts: { redis: proxy.takeCounts(), store: measured.takeCounts() } });
      if (perStep.length === options.warmupSteps) {
        workerCountsReset = workers.counts();
        if (blob !== null) blob.bytes = 0;
      }
    },
  });
  try {
    const outcome = await coordinator.runJob(created.record.id, { stopAfterSteps: options.warmupSteps + options.steps });
    if (outcome.state !== 'running' || outcome.step !== options.warmupSteps + options.steps) {
      throw new Error(`the simulated run ended as ${outcome.state} at step ${outcome.step}: ${outcome.message ?? ''}`);
    }
    await workerCountsReset;
    const workerCounts = await workers.counts();
    const steady = perStep.slice(options.warmupSteps);
    const blobBytes = (blob?.bytes ?? 0) + workerCounts.blob.bytes;
    return {
      workers: options.workers,
      reductionVersion: options.reductionVersion,
      model: options.model,
      parameters,
      transport: blob === null ? 'store' : 'redis',
      s3Model: options.s3Model,
      computeDelayMs: options.computeDelayMs,
      steps: steady.length,
      serialMs: Math.round(median(steady.map((s) => s.progress.metric.serialMs ?? Number.NaN))),
      stepMs: Math.round(median(steady.map((s) => s.progress.metric.stepMs))),
      redisCommands: Math.round(median(steady.map((s) => s.counts.redis.commands))),
      redisRoundTrips: Math.round(median(steady.map((s) => s.counts.redis.roundTrips))),
      coordinatorStoreRequests: Math.round(median(steady.map((s) => requestsOf(s.counts.store)))),
      coordinatorStoreMB: mb(median(steady.map((s) => s.counts.store.bytesIn + s.counts.store.bytesOut))),
      workersStoreRequests: Math.round(requestsOf(workerCounts.store) / steady.length),
      workersStoreMB: mb((workerCounts.store.bytesIn + workerCounts.store.bytesOut) / steady.length),
      blobRedisMB: mb(blobBytes / steady.length),
    };
  } finally {
    await coordinator.close();
    await workers.close();
    await store.close();
    await blob?.close();
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
