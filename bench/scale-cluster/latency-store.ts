// A store wrapper for the scale simulation: counts what passes through it (requests and bytes
// by operation) and, with a latency model, makes each request take as long as it would on S3:
//   - a fixed time per request (first byte for reads, the whole upload acknowledged for writes);
//   - the body at a per-connection throughput;
//   - every body through the client's network interface, one after another (its bandwidth);
//   - per partitioned prefix at most `putPerSecond` PUT/DELETE and `getPerSecond` GET/HEAD/LIST
//     a second (AWS documents 3,500 and 5,500 per partitioned prefix); requests
//     beyond the rate wait for their turn, as an SDK that retries SlowDown would, minus the backoff.
// The inner store does the real work; its own time adds to the model's (a local directory: small).
import type { ObjectStore, VersionedObject } from '@lstm-runner/storage';

export interface LatencyModel {
  /** Fixed time of a GET/HEAD/LIST (ms). */
  readonly readMs: number;
  /** Fixed time of a PUT/DELETE (ms). */
  readonly writeMs: number;
  /** One connection's throughput (bytes/s). */
  readonly connectionBytesPerSecond: number;
  /** The client's network interface (bytes/s), shared by all its requests. */
  readonly clientBytesPerSecond: number;
  readonly putPerSecond: number;
  readonly getPerSecond: number;
  /** The partitioned prefix of a key (requests of one prefix share its rates). */
  readonly partitionOf: (key: string) => string;
}

/** S3 as modelled here: tens of ms a request, ~90 MB/s a connection, a 10 Gbit/s client, AWS's per-prefix rates. */
export const S3_MODEL: LatencyModel = {
  readMs: 30,
  writeMs: 50,
  connectionBytesPerSecond: 90e6,
  clientBytesPerSecond: 1.25e9,
  putPerSecond: 3500,
  getPerSecond: 5500,
  // One partition per job (everything a job writes shares its rates): the pessimistic case.
  partitionOf: (key) => key.split('/').slice(0, 2).join('/'),
};

export interface StoreCounts {
  requests: Record<string, number>;
  bytesIn: number;
  bytesOut: number;
}

export function emptyCounts(): StoreCounts {
  return { requests: {}, bytesIn: 0, bytesOut: 0 };
}

const sleep = (ms: number): Promise<void> => (ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms)));

/** Per-prefix request slots: the next free time of each (prefix, kind). */
class RateLimiter {
  private readonly nextFree = new Map<string, number>();

  /** How long to wait for a slot at `perSecond` on `bucket`. */
  delay(bucket: string, perSecond: number, now: number): number {
    const free = Math.max(now, this.nextFree.get(bucket) ?? 0);
    this.nextFree.set(bucket, free + 1000 / perSecond);
    return free - now;
  }
}

export class MeasuredStore implements ObjectStore {
  counts: StoreCounts = emptyCounts();
  private readonly limiter = new RateLimiter();
  private pipeFreeAt = 0;

  constructor(
    private readonly inner: ObjectStore,
    private readonly model: LatencyModel | null,
  ) {}

  get url(): string {
    return this.inner.url;
  }

  /** The counts since the last call; starts new ones. */
  takeCounts(): StoreCounts {
    const counts = this.counts;
    this.counts = emptyCounts();
    return counts;
  }

  /** Counts a request and waits for its slot, its fixed time and its upload. */
  private async request(operation: string, key: string, bytesOut: number): Promise<void> {
    this.counts.requests[operation] = (this.counts.requests[operation] ?? 0) + 1;
    this.counts.bytesOut += bytesOut;
    const { model } = this;
    if (model === null) return;
    const now = performance.now();
    // LIST is a GET on the bucket: it counts with the reads.
    const write = operation === 'put' || operation === 'delete' || operation === 'putIfVersion';
    const wait = this.limiter.delay(`${model.partitionOf(key)} ${write ? 'w' : 'r'}`, write ? model.putPerSecond : model.getPerSecond, now);
    await sleep(wait + (write ? model.writeMs : model.readMs) + this.transferMs(bytesOut));
  }

  /** The time a body takes: its connection's throughput, queued behind the client's other bodies. */
  private transferMs(bytes: number): number {
    const { model } = this;
    if (model === null || bytes === 0) return 0;
    const now = performance.now();
    this.pipeFreeAt = Math.max(now, this.pipeFreeAt) + (1000 * bytes) / model.clientBytesPerSecond;
    return Math.max((1000 * bytes) / model.connectionBytesPerSecond, this.pipeFreeAt - now);
  }

  /** Counts a download and waits for its body to come through. */
  private async received(bytes: number): Promise<void> {
    this.counts.bytesIn += bytes;
    await sleep(this.transferMs(bytes));
  }

  async get(key: string): Promise<Uint8Array> {
    await this.request('get', key, 0);
    const body = await this.inner.get(key);
    await this.received(body.length);
    return body;
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    await this.request('getRange', key, 0);
    const body = await this.inner.getRange(key, start, end);
    await this.received(body.length);
    return body;
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    await this.request('put', key, typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    await this.inner.put(key, body);
  }

  async head(key: string): Promise<{ size: number } | null> {
    await this.request('head', key, 0);
    return this.inner.head(key);
  }

  async list(prefix: string): Promise<string[]> {
    await this.request('list', prefix, 0);
    return this.inner.list(prefix);
  }

  async getVersioned(key: string): Promise<VersionedObject | null> {
    await this.request('getVersioned', key, 0);
    const found = await this.inner.getVersioned(key);
    if (found !== null) await this.received(found.body.length);
    return found;
  }

  async putIfVersion(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean> {
    await this.request('putIfVersion', key, typeof body === 'string' ? Buffer.byteLength(body) : body.length);
    return this.inner.putIfVersion(key, body, expected);
  }

  async delete(key: string): Promise<void> {
    await this.request('delete', key, 0);
    await this.inner.delete(key);
  }

  async close(): Promise<void> {
    await this.inner.close();
  }
}
