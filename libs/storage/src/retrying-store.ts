// Retries transient failures of another store with backoff and bounds every attempt with a
// timeout. openStore puts it outermost, so faults injected by withFaults (inside it) are
// retried like real ones.
import { StoreError } from './errors/store-error';
import type { ObjectStore, StoreOperation, VersionedObject } from './object-store';
import { backoffDelayMs, toStoreError, type RetryOptions } from './retry';
import { Sleepers } from './sleepers';

export class RetryingStore implements ObjectStore {
  private closed = false;
  /** Calls waiting out a backoff; close() wakes them so they fail at once. */
  private readonly backoffs = new Sleepers();

  constructor(
    private readonly inner: ObjectStore,
    private readonly options: RetryOptions,
    private readonly random: () => number = Math.random,
  ) {}

  get url(): string {
    return this.inner.url;
  }

  get(key: string): Promise<Uint8Array> {
    return this.call('get', key, () => this.inner.get(key));
  }

  getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return this.call('getRange', key, () => this.inner.getRange(key, start, end));
  }

  put(key: string, body: Uint8Array | string): Promise<void> {
    return this.call('put', key, () => this.inner.put(key, body));
  }

  getVersioned(key: string): Promise<VersionedObject | null> {
    return this.call('getVersioned', key, () => this.inner.getVersioned(key));
  }

  /** Retried like the others: an attempt that timed out may have written, so a retry that finds its own write answers false. */
  putIfVersion(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean> {
    return this.call('putIfVersion', key, () => this.inner.putIfVersion(key, body, expected));
  }

  head(key: string): Promise<{ size: number } | null> {
    return this.call('head', key, () => this.inner.head(key));
  }

  list(prefix: string): Promise<string[]> {
    return this.call('list', prefix, () => this.inner.list(prefix));
  }

  delete(key: string): Promise<void> {
    return this.call('delete', key, () => this.inner.delete(key));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.backoffs.wakeAll();
    await this.inner.close();
  }

  private async call<T>(operation: StoreOperation, key: string, attempt: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.options.budgetMs;
    for (let attempts = 1; ; attempts++) {
      if (this.closed) {
        throw new StoreError({ operation, key, storeUrl: this.url, code: 'Closed', transient: false, detail: 'the store is closed' });
      }
      let error: StoreError;
      try {
        return await this.withinTimeout(operation, key, attempt, Math.min(this.options.timeoutMs, deadline - Date.now()));
      } catch (caught) {
        error = toStoreError(caught, operation, key, this.url);
      }
      // Permanent errors keep their class (ObjectNotFoundError...) whatever attempt they came on.
      if (!error.transient) throw error;
      const backoff = backoffDelayMs(attempts, this.options, this.random);
      if (Date.now() + backoff >= deadline) {
        const detail = `${error.detail}; gave up when the call's budget of ${this.options.budgetMs} ms ran out`;
        throw new StoreError(
          { operation, key, storeUrl: this.url, code: error.code, transient: true, detail, attempts },
          { cause: error.cause },
        );
      }
      if (attempts >= this.options.attempts) {
        if (attempts === 1) throw error;
        throw new StoreError(
          { operation, key, storeUrl: this.url, code: error.code, transient: true, detail: error.detail, attempts },
          { cause: error.cause },
        );
      }
      await this.backoffs.sleep(backoff);
    }
  }

  private withinTimeout<T>(operation: StoreOperation, key: string, attempt: () => Promise<T>, timeoutMs: number): Promise<T> {
    const pending = attempt();
    // An attempt that timed out may still fail later; nobody waits for it any more.
    pending.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const detail = `no answer within ${timeoutMs} ms`;
        reject(new StoreError({ operation, key, storeUrl: this.url, code: 'Timeout', transient: true, detail }));
      }, timeoutMs);
    });
    return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
  }
}
