// The other way per-step objects could travel: a separate, non-persistent Redis (never the
// queue's) holding weights and gradients as binary keys with a TTL. For the scale simulation
// only: a RoutingStore sends the keys of per-step objects (jobs/<id>/weights/..., .../grads/...)
// here and everything else (checkpoints, metrics, pointers, datasets) to the store.
import { Redis } from 'ioredis';
import { ObjectNotFoundError, type ObjectStore, type VersionedObject } from '@lstm-runner/storage';

/** Per-step objects: read within a step or two of being written. */
const TTL_MS = 10 * 60_000;

export class RedisBlobStore implements ObjectStore {
  readonly url: string;
  private readonly redis: Redis;
  /** Commands sent and bytes moved, for the figures. */
  commands = 0;
  bytes = 0;

  constructor(redisUrl: string) {
    this.url = redisUrl;
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  }

  async get(key: string): Promise<Uint8Array> {
    this.commands += 1;
    const value = await this.redis.getBuffer(key);
    if (value === null) throw new ObjectNotFoundError('get', key, this.url);
    this.bytes += value.length;
    return value;
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return (await this.get(key)).subarray(start, end);
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    this.commands += 1;
    const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.bytes += bytes.length;
    await this.redis.set(key, bytes, 'PX', TTL_MS);
  }

  async head(key: string): Promise<{ size: number } | null> {
    this.commands += 1;
    const size = await this.redis.strlen(key);
    return size === 0 && (await this.redis.exists(key)) === 0 ? null : { size };
  }

  async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      this.commands += 1;
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    return keys.sort();
  }

  async getVersioned(): Promise<VersionedObject | null> {
    throw new Error('per-step objects are never compared-and-set');
  }

  async putIfVersion(): Promise<boolean> {
    throw new Error('per-step objects are never compared-and-set');
  }

  async delete(key: string): Promise<void> {
    this.commands += 1;
    await this.redis.del(key);
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

/** True for the keys (and listing prefixes) of per-step weights and gradients. */
export function isPerStepKey(key: string): boolean {
  return /^jobs\/[^/]+\/(weights|grads)\//.test(key);
}

/** Per-step objects to `fast`, everything else to `store`. */
export class RoutingStore implements ObjectStore {
  constructor(
    private readonly store: ObjectStore,
    private readonly fast: ObjectStore,
  ) {}

  get url(): string {
    return this.store.url;
  }

  private pick(key: string): ObjectStore {
    return isPerStepKey(key) ? this.fast : this.store;
  }

  get(key: string): Promise<Uint8Array> {
    return this.pick(key).get(key);
  }

  getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return this.pick(key).getRange(key, start, end);
  }

  put(key: string, body: Uint8Array | string): Promise<void> {
    return this.pick(key).put(key, body);
  }

  head(key: string): Promise<{ size: number } | null> {
    return this.pick(key).head(key);
  }

  list(prefix: string): Promise<string[]> {
    return this.pick(prefix).list(prefix);
  }

  getVersioned(key: string): Promise<VersionedObject | null> {
    return this.pick(key).getVersioned(key);
  }

  putIfVersion(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean> {
    return this.pick(key).putIfVersion(key, body, expected);
  }

  delete(key: string): Promise<void> {
    return this.pick(key).delete(key);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
