// A pool of worker threads that run shard computations, so the BullMQ worker's event loop
// (lock renewal, stalled checks, SIGTERM) never waits behind the math. Each thread holds
// its own compute backend, weights cache and dataset cache.
import { Worker } from 'node:worker_threads';
import type { ShardComputeRequest, ShardComputeResponse, ShardThreadOptions } from './shard-thread-protocol';

interface PendingCall {
  resolve(result: ShardComputeResponse): void;
  reject(error: Error): void;
}

interface PoolThread {
  readonly worker: Worker;
  busy: boolean;
  readonly ready: Promise<string>;
  pending?: PendingCall;
}

export class ComputePool {
  private readonly threads: PoolThread[] = [];
  private readonly queue: { request: ShardComputeRequest; call: PendingCall }[] = [];
  private nextRequestId = 0;
  private closed = false;

  constructor(size: number, options: ShardThreadOptions) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`compute pool size must be a positive integer, got ${size}`);
    for (let i = 0; i < size; i++) this.threads.push(this.startThread(options));
  }

  private startThread(options: ShardThreadOptions): PoolThread {
    // The entry is a .mjs shim that registers tsx inside the thread (a thread does not
    // inherit the main thread's loader hooks).
    const worker = new Worker(new URL('./shard-thread-entry.mjs', import.meta.url), { workerData: options });
    let onReady: (description: string) => void = () => undefined;
    let onReadyFailed: (error: Error) => void = () => undefined;
    const ready = new Promise<string>((resolve, reject) => {
      onReady = resolve;
      onReadyFailed = reject;
    });
    ready.catch(() => undefined);
    const thread: PoolThread = { worker, busy: false, ready };
    worker.on('message', (message: { type: 'ready'; description: string } | { type: 'result'; response: ShardComputeResponse }) => {
      if (message.type === 'ready') {
        onReady(message.description);
        return;
      }
      const call = thread.pending;
      thread.pending = undefined;
      thread.busy = false;
      if (call !== undefined) {
        if (message.response.ok) call.resolve(message.response);
        else call.reject(Object.assign(new Error(message.response.error), { name: message.response.errorName }));
      }
      this.drain();
    });
    worker.on('error', (error) => {
      onReadyFailed(error);
      const call = thread.pending;
      thread.pending = undefined;
      call?.reject(error);
    });
    return thread;
  }

  /** Resolves with the backend description once every thread has loaded its backend. */
  async ready(): Promise<string> {
    const descriptions = await Promise.all(this.threads.map((thread) => thread.ready));
    return descriptions[0] ?? '';
  }

  compute(request: Omit<ShardComputeRequest, 'requestId'>): Promise<ShardComputeResponse> {
    if (this.closed) return Promise.reject(new Error('compute pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { ...request, requestId: this.nextRequestId++ }, call: { resolve, reject } });
      this.drain();
    });
  }

  private drain(): void {
    for (const thread of this.threads) {
      if (thread.busy) continue;
      const next = this.queue.shift();
      if (next === undefined) return;
      thread.busy = true;
      thread.pending = next.call;
      thread.worker.postMessage(next.request);
    }
  }

  /** Terminates the threads (after the calls in hand, when the caller waited for them). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const { call } of this.queue.splice(0)) call.reject(new Error('compute pool closed'));
    await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
  }
}
