// N simulated workers in one child process (forked by scale-cluster.ts, so that their work
// stays off the coordinator's event loop): each is a real BullMQ worker on the job's gradient
// queue that takes shard jobs one at a time, reads the shard's weights from the store (as a
// real worker does), waits the compute delay, writes a precomputed gradient of the model's size
// and returns the result a real worker returns. Reduce tasks (reduction version 2) are real
// work: the workers' own reduceGradients reads, checks, sums and writes them. The parent asks
// for the store counts over IPC.
import { Worker, type Job } from 'bullmq';
import { encodeFloat32Vector, gradientKey, gradientQueueName, type GradientJobData, type GradientJobResult } from '@lstm-runner/protocol';
import { checksumOf, openStore, type ObjectStore } from '@lstm-runner/storage';
import { redisOptionsFromUrl, reduceGradients } from '@lstm-runner/runner';
import { MeasuredStore, S3_MODEL, emptyCounts, type StoreCounts } from './latency-store';
import { RedisBlobStore, RoutingStore } from './redis-blob-store';

export interface SimulatedWorkersConfig {
  readonly workers: number;
  readonly redisUrl: string;
  readonly prefix: string;
  readonly profile: { readonly backend: string; readonly threads: number };
  readonly storeDir: string;
  /** With the S3 latency model, or the store as it is. */
  readonly s3Model: boolean;
  /** Per-step objects through this Redis (not the queue's), or through the store. */
  readonly blobRedisUrl: string | null;
  readonly parameters: number;
  readonly computeDelayMs: number;
  readonly windowsPerShard: number;
}

export type ParentMessage = { readonly type: 'counts' } | { readonly type: 'close' };
export type ChildMessage =
  { readonly type: 'ready' } | { readonly type: 'counts'; readonly store: StoreCounts; readonly blob: { commands: number; bytes: number } };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A gradient of small, varied values (Adam and clipping see nothing unusual). */
function precomputedGradient(parameters: number): Uint8Array {
  const values = new Float32Array(parameters);
  for (let p = 0; p < parameters; p++) values[p] = 1e-3 * Math.sin(p * 0.7);
  return encodeFloat32Vector(values);
}

async function main(config: SimulatedWorkersConfig): Promise<void> {
  const bytes = precomputedGradient(config.parameters);
  const checksums = { sha256: checksumOf('sha256', bytes), crc32: checksumOf('crc32', bytes) };
  const measured: MeasuredStore[] = [];
  const blobs: RedisBlobStore[] = [];
  const storeOf = (): ObjectStore => {
    // Every simulated worker is its own client: its own connections and network interface.
    const store = new MeasuredStore(openStore(config.storeDir), config.s3Model ? S3_MODEL : null);
    measured.push(store);
    if (config.blobRedisUrl === null) return store;
    const blob = new RedisBlobStore(config.blobRedisUrl);
    blobs.push(blob);
    return new RoutingStore(store, blob);
  };
  const compute = async (store: ObjectStore, job: Job<GradientJobData>): Promise<GradientJobResult> => {
    const started = performance.now();
    const data = job.data;
    if (data.kind === 'reduce') return reduceGradients(store, data);
    await store.get(data.weightsKey);
    await sleep(config.computeDelayMs);
    const count = config.windowsPerShard;
    if (data.kind === 'validate') return { kind: 'validate', loss: 2 * count, count, computeMs: performance.now() - started };
    const key = gradientKey(data.jobId, data.generation, data.step, data.shard);
    await store.put(key, bytes);
    const gradientChecksum = checksums[data.checksum ?? 'sha256'];
    return { kind: 'train', gradientKey: key, gradientChecksum, loss: 2 * count, count, computeMs: performance.now() - started };
  };
  const workers = Array.from({ length: config.workers }, () => {
    const store = storeOf();
    return new Worker(gradientQueueName(config.profile), (job: Job<GradientJobData>) => compute(store, job), {
      connection: redisOptionsFromUrl(config.redisUrl),
      prefix: config.prefix,
      concurrency: 1,
      removeOnComplete: { age: 3600 },
      removeOnFail: { age: 3600 },
    });
  });
  await Promise.all(workers.map((worker) => worker.waitUntilReady()));
  const send = (message: ChildMessage): void => void process.send?.(message);
  process.on('message', (received: unknown) => {
    const message = received as ParentMessage;
    if (message.type === 'counts') {
      const store = emptyCounts();
      for (const one of measured) {
        const counts = one.takeCounts();
        store.bytesIn += counts.bytesIn;
        store.bytesOut += counts.bytesOut;
        for (const [op, n] of Object.entries(counts.requests)) store.requests[op] = (store.requests[op] ?? 0) + n;
      }
      const blob = { commands: 0, bytes: 0 };
      for (const one of blobs) {
        blob.commands += one.commands;
        blob.bytes += one.bytes;
        one.commands = 0;
        one.bytes = 0;
      }
      send({ type: 'counts', store, blob });
    } else {
      void Promise.all(workers.map((worker) => worker.close()))
        .then(() => Promise.all([...measured, ...blobs].map((store) => store.close())))
        .then(() => process.exit(0));
    }
  });
  send({ type: 'ready' });
}

if (process.argv[2] === '--simulated-workers') {
  main(JSON.parse(process.argv[3]!) as SimulatedWorkersConfig).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
