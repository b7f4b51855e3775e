// A pool of worker threads that run shard computations, so the BullMQ worker's event loop
// (lock renewal, stalled checks, SIGTERM) never waits behind the math. Each thread holds its
// own compute backend, weights cache and dataset cache. A thread that dies (an uncaught
// error, an exit) fails the shard it held, so BullMQ retries it, and is replaced; replies
// carry their request's id, so a late reply from a replaced thread is dropped.
import { Worker } from 'node:worker_threads';
import type { ReduceResult, TrainShardResult, ValidationShardResult } from '@lstm-runner/protocol';
import { ComputeThreadError } from '../errors/compute-thread-error';
import type { BytesMoved } from '../http/metered-store';
import type { ComputeThreadMessage, ComputeThreadOptions, SegmentLookups, ShardComputeRequest } from './compute-thread-messages';

export type ShardComputeResult = TrainShardResult | ValidationShardResult | ReduceResult;

interface PendingCall {
  readonly request: ShardComputeRequest;
  resolve(result: ShardComputeResult): void;
  reject(error: Error): void;
}

interface PoolThread {
  readonly worker: Worker;
  readonly ready: Promise<string>;
  /** The call in hand; undefined when idle. */
  call: PendingCall | undefined;
  /** Set once its backend loaded; a thread that dies before is not replaced (the pool cannot start). */
  loaded: boolean;
  /** Set once the thread errored or exited: it takes no more calls. */
  dead: boolean;
}

export interface ComputePoolOptions {
  /** Threads, one shard each at a time. */
  readonly size: number;
  readonly thread: ComputeThreadOptions;
  /** Told when a thread dies and is replaced. */
  readonly onThreadDeath?: (reason: string) => void;
  /** Told the store bytes a thread moved (with each of its replies, late ones too). */
  readonly onBytesMoved?: (moved: BytesMoved) => void;
  /** Told the segment lookups of a thread's dataset readers (with each of its replies). */
  readonly onSegmentLookups?: (lookups: SegmentLookups) => void;
  /** The thread's entry module; default the shard thread (tests give threads that misbehave). */
  readonly entry?: URL;
}

export class ComputePool {
  private readonly threads: PoolThread[] = [];
  private readonly queue: PendingCall[] = [];
  private nextRequestId = 0;
  private closed = false;

  constructor(private readonly options: ComputePoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1)
      throw new RangeError(`compute pool size must be a positive integer, got ${options.size}`);
    for (let i = 0; i < options.size; i++) this.threads.push(this.startThread());
  }

  private startThread(): PoolThread {
    // The entry is a .mjs shim that registers tsx inside the thread (a thread does not
    // inherit the main thread's loader hooks).
    const worker = new Worker(this.options.entry ?? new URL('./shard-thread-entry.mjs', import.meta.url), {
      workerData: this.options.thread,
    });
    let markReady: (description: string) => void = () => undefined;
    let failReady: (error: Error) => void = () => undefined;
    const ready = new Promise<string>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    ready.catch(() => undefined);
    const thread: PoolThread = { worker, ready, call: undefined, loaded: false, dead: false };
    worker.on('message', (message: ComputeThreadMessage) => {
      if (message.type === 'ready') {
        thread.loaded = true;
        return markReady(message.description);
      }
      for (const moved of message.moved ?? []) this.options.onBytesMoved?.(moved);
      if (message.lookups !== undefined) this.options.onSegmentLookups?.(message.lookups);
      const call = thread.call;
      // A reply to another request (one already failed over) is late: drop it.
      if (call === undefined || call.request.requestId !== message.requestId) return;
      thread.call = undefined;
      if (message.type === 'result') call.resolve(message.result);
      else call.reject(Object.assign(new Error(message.message), { name: message.errorName }));
      this.drain();
    });
    const die = (reason: string): void => {
      if (thread.dead) return;
      thread.dead = true;
      failReady(new ComputeThreadError(reason));
      thread.call?.reject(new ComputeThreadError(reason));
      thread.call = undefined;
      void worker.terminate();
      if (this.closed || !thread.loaded) return;
      this.options.onThreadDeath?.(reason);
      const index = this.threads.indexOf(thread);
      if (index >= 0) this.threads[index] = this.startThread();
      this.drain();
    };
    worker.on('error', (error) => die(`compute thread crashed: ${error.message}`));
    worker.on('exit', (code) => die(`compute thread exited with code ${code}`));
    return thread;
  }

  /** Resolves with the backend description once every thread has loaded its backend. */
  async ready(): Promise<string> {
    const descriptions = await Promise.all(this.threads.map((thread) => thread.ready));
    return descriptions[0] ?? '';
  }

  compute(task: ShardComputeRequest['task']): Promise<ShardComputeResult> {
    if (this.closed) return Promise.reject(new Error('compute pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ request: { requestId: this.nextRequestId++, task }, resolve, reject });
      this.drain();
    });
  }

  private drain(): void {
    for (const thread of this.threads) {
      if (thread.dead || thread.call !== undefined) continue;
      const next = this.queue.shift();
      if (next === undefined) return;
      thread.call = next;
      thread.worker.postMessage(next.request);
    }
  }

  /** Terminates the threads (after the calls in hand, when the caller waited for them). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const call of this.queue.splice(0)) call.reject(new Error('compute pool closed'));
    await Promise.all(this.threads.map((thread) => thread.worker.terminate()));
  }
}
