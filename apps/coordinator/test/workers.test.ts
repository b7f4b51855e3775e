// Guarantees 1, 2, 5, 8 and 10 of the distributed runner, with real processes, a real
// redis-server and a real S3-compatible server (s3rver): the final weights are bit-identical
// to an undisturbed run whatever happens to the workers and the storage.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jobIdFrom, type TestCluster } from '../../../test-support/cluster';
import { clusterWithReference } from './fixtures';

describe('distributed training with workers that come, go, fail and straggle', () => {
  let cluster: TestCluster;
  let spec: string;
  let reference: Buffer;

  beforeAll(async () => {
    ({ cluster, spec, reference } = await clusterWithReference('workers'));
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('gives bit-identical weights with 1 worker and with 3 workers', async () => {
    const run = await cluster.run(['train', spec, '--local-workers', '3', '--job-id', 'three-workers']);
    expect(run.code, run.stderr).toBe(0);
    await cluster.expectSameWeights('three-workers', 'reference', reference);
    const status = await cluster.status('three-workers');
    expect(status).toMatchObject({ state: 'completed', step: 8 });
  });

  it('completes with identical weights when a worker is SIGKILLed in the middle of a shard, recovered as a stalled shard', async () => {
    // No straggler duplicates here: the killed worker's shard must come back through BullMQ's
    // stalled-job detection, and nothing else.
    const coordinator = cluster.lstm(['coordinator'], { LSTM_STRAGGLER_MIN_MS: '600000' });
    const slow = cluster.worker({ LSTM_INJECT_SHARD_DELAY_MS: '1500' });
    const healthy = cluster.worker();
    const submitted = await cluster.run(['train', spec, '--job-id', 'worker-killed']);
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(jobIdFrom(submitted.stdout)).toBe('worker-killed');
    await cluster.waitFor('worker-killed', (s) => s.step >= 2);
    // The slow worker spends 1.5 s in every shard: one it took under 0.5 s ago is still in hand.
    const held = await cluster.shardInHandOf(slow.pid, 500);
    slow.kill('SIGKILL');
    await cluster.waitFor('worker-killed', (s) => s.state === 'completed', 90_000);
    await cluster.expectSameWeights('worker-killed', 'reference', reference);
    expect(coordinator.stderr()).toContain(
      `shard ${held}: its worker died or stopped answering; BullMQ gave it back to the queue (stalled)`,
    );
    expect(coordinator.stderr()).not.toContain('straggler duplicate');
    healthy.kill('SIGTERM');
    coordinator.kill('SIGTERM');
    expect(await coordinator.exited).toBe(0);
  });

  it('retries storage that fails for a while and still completes identically', async () => {
    // Every process sees its first store calls fail, then a window of failures later on.
    const faults = JSON.stringify({ failFirst: 4, log: true });
    const run = await cluster.run(['train', spec, '--local-workers', '2', '--job-id', 'flaky-store'], { LSTM_INJECT_STORE_FAULTS: faults });
    expect(run.code, run.stderr).toBe(0);
    await cluster.expectSameWeights('flaky-store', 'reference', reference);
    // The faults fired: in the coordinator and in both workers, four each.
    const fired = run.stderr.split('\n').filter((line) => line.startsWith('lstm-store-faults: injected'));
    expect(fired.length).toBeGreaterThanOrEqual(12);
  });

  it('lets workers join and leave (SIGTERM finishes the shard in hand) mid-run', async () => {
    const coordinator = cluster.lstm(['coordinator']);
    const first = cluster.worker({ LSTM_INJECT_SHARD_DELAY_MS: '200' });
    const submitted = await cluster.run(['train', spec, '--job-id', 'elastic']);
    expect(submitted.code, submitted.stderr).toBe(0);
    await cluster.waitFor('elastic', (s) => s.step >= 2);
    const second = cluster.worker();
    await cluster.waitFor('elastic', (s) => s.step >= 4);
    first.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    await cluster.waitFor('elastic', (s) => s.state === 'completed', 90_000);
    await cluster.expectSameWeights('elastic', 'reference', reference);
    expect(second.stderr()).toContain('ready');
    second.kill('SIGTERM');
    coordinator.kill('SIGTERM');
  });

  it('gives a straggling shard to an idle worker as well; the duplicate wins', async () => {
    const coordinator = cluster.lstm(['coordinator']);
    // This worker would hold each of its shards for 60 s: without duplicates the run
    // could not end before it.
    const straggler = cluster.worker({ LSTM_INJECT_SHARD_DELAY_MS: '60000' });
    await cluster.waitForWorkers(1);
    const fast = cluster.worker();
    const submitted = await cluster.run(['train', spec, '--job-id', 'straggler']);
    expect(submitted.code, submitted.stderr).toBe(0);
    const held = await cluster.shardInHandOf(straggler.pid, 60_000);
    await cluster.waitFor('straggler', (s) => s.state === 'completed', 90_000);
    await cluster.expectSameWeights('straggler', 'reference', reference);
    // The straggler still holds the shard it took; its duplicate's result won.
    const stillHeld =
      (await cluster.liveWorkers()).find((worker) => worker.pid === straggler.pid)?.current.map((shard) => shard.taskId) ?? [];
    expect(stillHeld).toContain(held);
    expect(coordinator.stderr()).toContain(`shard ${held}: straggling; an idle worker computes it too (straggler duplicate)`);
    straggler.kill('SIGKILL');
    fast.kill('SIGTERM');
    coordinator.kill('SIGTERM');
  });

  it('runs several jobs at once on the same workers', async () => {
    const coordinator = cluster.lstm(['coordinator']);
    const workers = [cluster.worker(), cluster.worker()];
    for (const jobId of ['together-a', 'together-b']) {
      const submitted = await cluster.run(['train', spec, '--job-id', jobId]);
      expect(submitted.code, submitted.stderr).toBe(0);
    }
    await cluster.waitFor('together-a', (s) => s.state === 'completed', 90_000);
    await cluster.waitFor('together-b', (s) => s.state === 'completed', 90_000);
    await cluster.expectSameWeights('together-a', 'reference', reference);
    await cluster.expectSameWeights('together-b', 'reference', reference);
    for (const worker of workers) worker.kill('SIGTERM');
    coordinator.kill('SIGTERM');
  });
});
