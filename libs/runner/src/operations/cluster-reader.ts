// What the cluster is doing, read from Redis through one connection: the live workers and
// how many shard jobs wait on each numerics profile's gradient queue. For /metrics (read at
// each scrape) and the dashboard.
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { gradientQueueName, parseNumericsProfile } from '@lstm-runner/protocol';
import { connectRedis } from '../redis/redis-connection';
import { listLiveWorkers, servedProfiles, type WorkerAnnouncement } from './worker-registry';

export interface QueueDepth {
  /** The numerics profile, in string form. */
  readonly profile: string;
  readonly queue: string;
  /** Shard jobs waiting for a worker (prioritized ones included). */
  readonly waiting: number;
  /** Shard jobs a worker holds now. */
  readonly active: number;
  /** Shard jobs waiting out a retry's backoff. */
  readonly delayed: number;
}

export class ClusterReader {
  private readonly redis: Redis;
  private readonly queues = new Map<string, Queue>();
  private closed = false;

  constructor(
    redisUrl: string,
    private readonly prefix: string,
  ) {
    this.redis = connectRedis(redisUrl);
  }

  private queueOf(profile: string): Queue {
    const name = gradientQueueName(parseNumericsProfile(profile));
    let queue = this.queues.get(name);
    if (queue === undefined) {
      queue = new Queue(name, { connection: this.redis, prefix: this.prefix });
      queue.on('error', () => undefined);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /** Every worker whose announcement has not expired, by id. */
  liveWorkers(): Promise<WorkerAnnouncement[]> {
    return listLiveWorkers(this.redis, this.prefix);
  }

  /**
   * The depth of each profile's queue (and with alsoServed, of the queues of the profiles live
   * workers serve), sorted by profile; a queue never used reads as empty.
   */
  async depths(profiles: Iterable<string>, alsoServed = true): Promise<QueueDepth[]> {
    const served = alsoServed ? servedProfiles(await this.liveWorkers()) : [];
    const sorted = [...new Set([...profiles, ...served])].sort();
    return Promise.all(
      sorted.map(async (profile) => {
        const queue = this.queueOf(profile);
        const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
        return {
          profile,
          queue: queue.name,
          waiting: (counts['waiting'] ?? 0) + (counts['prioritized'] ?? 0),
          active: counts['active'] ?? 0,
          delayed: counts['delayed'] ?? 0,
        };
      }),
    );
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.redis.disconnect();
  }
}
