// The shard dispatcher against a real redis-server and a plain BullMQ worker: results come
// back in shard order from the queue's 'completed' events (it never looks a job up in the
// queue), each reported once to onResult, and the step's jobs are gone from the queue
// afterwards.
import { Queue, Worker } from 'bullmq';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import { redisOptionsFromUrl, ShardDispatcher, type ShardTask } from '../src/index';

interface ShardData {
  readonly shard: number;
  readonly delayMs: number;
}

describe('ShardDispatcher', () => {
  const redisUrl = inject('redisUrl');
  const prefix = `dispatch-${process.pid}-${Date.now()}`;
  const queueName = 'shards';
  const connection = redisOptionsFromUrl(redisUrl);
  const worker = new Worker<ShardData, { value: number }>(
    queueName,
    async (job) => {
      await new Promise((resolve) => setTimeout(resolve, job.data.delayMs));
      return { value: 10 * job.data.shard };
    },
    { connection, prefix, concurrency: 3 },
  );
  const dispatcher = new ShardDispatcher(queueName, { redisUrl, prefix }, { pollMs: 60_000, checkEveryMs: 60_000 });
  const queue = new Queue(queueName, { connection, prefix });

  afterAll(async () => {
    await dispatcher.close();
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
  });

  it('takes results from completed events, in shard order, each once', async () => {
    // The last shard finishes first, so shard order is not completion order; even the first
    // result comes late enough that the dispatcher's event stream is open by then.
    const tasks: ShardTask<ShardData>[] = [0, 1, 2].map((shard) => ({
      shard,
      taskId: `t-s0-${shard}`,
      data: { shard, delayMs: 500 * (3 - shard) },
    }));
    const seen: number[] = [];
    // Results from events: the dispatcher never reads a job's state from the queue.
    const lookups = vi.spyOn(Queue.prototype, 'getJobState');
    const results = await dispatcher.run<ShardData, { value: number }>(
      tasks,
      async () => undefined,
      (index) => seen.push(index),
    );
    expect(lookups).not.toHaveBeenCalled();
    lookups.mockRestore();
    expect(results).toEqual([{ value: 0 }, { value: 10 }, { value: 20 }]);
    expect([...seen].sort()).toEqual([0, 1, 2]);
    // A second step on the same dispatcher, right after: its events are not confused with the first's.
    const next = await dispatcher.run<ShardData, { value: number }>(
      [{ shard: 0, taskId: 't-s1-0', data: { shard: 7, delayMs: 10 } }],
      async () => undefined,
    );
    expect(next).toEqual([{ value: 70 }]);
    await dispatcher.close();
    expect(await queue.getJobCounts('completed', 'waiting', 'active')).toEqual({ completed: 0, waiting: 0, active: 0 });
  });
});
