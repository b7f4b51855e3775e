// Live workers announce themselves in Redis: one key per worker, renewed every few seconds
// with a TTL, holding the numerics profile it serves and what it is doing. The coordinator
// resolves `auto` against the profiles being served, notices a job whose profile nobody
// serves, and the dashboard lists the workers.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { mapping, nonEmptyString, nonNegativeInteger, positiveInteger } from '@lstm-runner/lstm-core';
import { parseStoredJson } from '@lstm-runner/job-store';
import type { Redis } from 'ioredis';
import * as z from 'zod';
import { connectRedis } from '../redis/redis-connection';
import { workerKey, workerKeyPattern } from '../redis/redis-layout';

export interface WorkerAnnouncement {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  /** The numerics profile it serves, in string form ('wasm-t1-n1a2b3c4d'). */
  readonly profile: string;
  /** What runs its math, one line. */
  readonly backend: string;
  readonly concurrency: number;
  readonly startedAt: string;
  readonly seenAt: string;
  readonly shardsDone: number;
  /** The shard jobs in hand, and since when (ISO time). */
  readonly current: readonly ShardInHand[];
}

export interface ShardInHand {
  readonly taskId: string;
  readonly since: string;
}

const announcementSchema = mapping({
  id: nonEmptyString(),
  host: z.string(),
  pid: nonNegativeInteger(),
  profile: nonEmptyString(),
  backend: z.string(),
  concurrency: positiveInteger(),
  startedAt: nonEmptyString(),
  seenAt: nonEmptyString(),
  shardsDone: nonNegativeInteger(),
  current: z.array(mapping({ taskId: nonEmptyString(), since: nonEmptyString() })),
}) satisfies z.ZodType<WorkerAnnouncement>;

export interface HeartbeatTimings {
  /** How often a worker renews its announcement. */
  readonly everyMs: number;
  /** How long an announcement outlives its last renewal: a worker silent this long is gone. */
  readonly ttlMs: number;
}

export const DEFAULT_HEARTBEAT_TIMINGS: HeartbeatTimings = { everyMs: 5_000, ttlMs: 15_000 };

/** A worker's id: host, pid and a few random bytes (unique even across restarts in containers). */
export function newWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Renews one worker's announcement until stopped; `state` is read at every beat. */
export class WorkerHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly state: () => WorkerAnnouncement,
    private readonly timings: HeartbeatTimings = DEFAULT_HEARTBEAT_TIMINGS,
  ) {}

  /** Announces at once, then every timings.everyMs. */
  async start(): Promise<void> {
    await this.beat();
    this.timer = setInterval(() => void this.beat().catch(() => undefined), this.timings.everyMs);
    this.timer.unref();
  }

  /** Renews the announcement now (what the worker does changed); errors are left to the next beat. */
  beatNow(): void {
    void this.beat().catch(() => undefined);
  }

  private async beat(): Promise<void> {
    if (this.stopped) return;
    const announcement = this.state();
    await this.redis.set(workerKey(this.prefix, announcement.id), JSON.stringify(announcement), 'PX', this.timings.ttlMs);
  }

  /** Stops and withdraws the announcement. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.redis.del(workerKey(this.prefix, this.state().id)).catch(() => undefined);
  }
}

/** Every worker whose announcement has not expired, by id. */
export async function listLiveWorkers(redis: Redis, prefix: string): Promise<WorkerAnnouncement[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', workerKeyPattern(prefix), 'COUNT', 500);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  const workers: WorkerAnnouncement[] = [];
  values.forEach((value, index) => {
    // An announcement that expired between SCAN and MGET is simply gone.
    if (value !== null) workers.push(parseStoredJson(value, announcementSchema, `redis ${keys[index]!}`));
  });
  return workers.sort((a, b) => a.id.localeCompare(b.id));
}

/** The live workers of the Redis at `redisUrl` (one short connection). */
export async function liveWorkersAt(redisUrl: string, prefix: string): Promise<WorkerAnnouncement[]> {
  const redis = connectRedis(redisUrl);
  try {
    return await listLiveWorkers(redis, prefix);
  } finally {
    redis.disconnect();
  }
}

/** The profiles served by the live workers of the Redis at `redisUrl`. */
export async function servedProfilesAt(redisUrl: string, prefix: string): Promise<string[]> {
  return servedProfiles(await liveWorkersAt(redisUrl, prefix));
}

/** The distinct profiles the workers serve, sorted. */
export function servedProfiles(workers: readonly WorkerAnnouncement[]): string[] {
  return [...new Set(workers.map((worker) => worker.profile))].sort();
}
