// The job lease: a Redis key set with NX and a short TTL, renewed while the coordinator
// works. Its value is a fencing token from a per-job counter; the token is checked before
// every write to the store, so a coordinator that stalled past its TTL cannot overwrite the
// work of the one that took over.
import type { Redis } from 'ioredis';
import { DEFAULT_QUEUE_PREFIX } from '@lstm-runner/protocol';
import { LeaseLostError } from '../errors/lease-lost-error';
import { fenceKey, leaseKey } from '../redis/redis-layout';

export interface JobLeaseOptions {
  /** Lease time to live; a dead coordinator's job is free again after this. */
  ttlMs: number;
  /** How often the holder renews; must be well under ttlMs. */
  renewEveryMs: number;
  /** Key prefix shared with the queues (tests isolate by prefix). */
  prefix: string;
}

export const DEFAULT_LEASE_OPTIONS: JobLeaseOptions = { ttlMs: 15_000, renewEveryMs: 3_000, prefix: DEFAULT_QUEUE_PREFIX };

const RENEW_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

// Tokens must grow across a Redis that lost everything: the caller passes the highest token
// it has seen in the store and the counter never hands out one at or below it.
const NEXT_TOKEN_SCRIPT = `
local token = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if token <= floor then
  token = floor + 1
  redis.call('SET', KEYS[1], token)
end
return token`;

const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

export class JobLease {
  private readonly options: JobLeaseOptions;
  private timer: NodeJS.Timeout | undefined;
  private lost = false;
  private released = false;

  private constructor(
    private readonly redis: Redis,
    readonly jobId: string,
    readonly token: number,
    options: JobLeaseOptions,
  ) {
    this.options = options;
  }

  /**
   * Takes the lease when it is free; null when another coordinator holds it. tokenFloor is
   * the highest fencing token recorded in the store for this job.
   */
  static async tryAcquire(redis: Redis, jobId: string, options: Partial<JobLeaseOptions> = {}, tokenFloor = 0): Promise<JobLease | null> {
    const merged = { ...DEFAULT_LEASE_OPTIONS, ...options };
    if (!(merged.renewEveryMs > 0 && merged.renewEveryMs * 2 <= merged.ttlMs)) {
      throw new RangeError(`lease renewEveryMs (${merged.renewEveryMs}) must be positive and at most half of ttlMs (${merged.ttlMs})`);
    }
    const token = Number(await redis.eval(NEXT_TOKEN_SCRIPT, 1, fenceKey(merged.prefix, jobId), tokenFloor));
    const set = await redis.set(leaseKey(merged.prefix, jobId), String(token), 'PX', merged.ttlMs, 'NX');
    if (set !== 'OK') return null;
    const lease = new JobLease(redis, jobId, token, merged);
    lease.timer = setInterval(() => void lease.renew(), merged.renewEveryMs);
    lease.timer.unref();
    return lease;
  }

  /** Waits until the lease can be taken (another coordinator's ended or expired). */
  static async acquire(
    redis: Redis,
    jobId: string,
    options: Partial<JobLeaseOptions> = {},
    tokenFloor = 0,
    shouldStop: () => boolean = () => false,
  ): Promise<JobLease | null> {
    const merged = { ...DEFAULT_LEASE_OPTIONS, ...options };
    for (;;) {
      const lease = await JobLease.tryAcquire(redis, jobId, merged, tokenFloor);
      if (lease !== null || shouldStop()) return lease;
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, merged.renewEveryMs)));
    }
  }

  get isLost(): boolean {
    return this.lost;
  }

  private async renew(): Promise<void> {
    if (this.released || this.lost) return;
    try {
      const renewed = await this.redis.eval(
        RENEW_SCRIPT,
        1,
        leaseKey(this.options.prefix, this.jobId),
        String(this.token),
        this.options.ttlMs,
      );
      if (renewed !== 1) this.markLost();
    } catch {
      // Redis unreachable for a moment: the next renewal or assertHeld decides.
    }
  }

  private markLost(): void {
    this.lost = true;
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  /** Throws LeaseLostError unless this coordinator still holds the lease. Call before writes. */
  async assertHeld(): Promise<void> {
    if (this.lost) throw new LeaseLostError(this.jobId, this.token);
    const holder = await this.redis.get(leaseKey(this.options.prefix, this.jobId));
    if (holder !== String(this.token)) {
      this.markLost();
      throw new LeaseLostError(this.jobId, this.token);
    }
  }

  /** Gives the lease up. Idempotent. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.lost) return;
    try {
      await this.redis.eval(RELEASE_SCRIPT, 1, leaseKey(this.options.prefix, this.jobId), String(this.token));
    } catch {
      // It expires by itself.
    }
  }
}
