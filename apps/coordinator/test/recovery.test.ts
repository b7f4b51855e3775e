// Guarantees 3, 4 and 9: a coordinator killed mid-run and resumed, a Redis replaced by an
// empty one, and two coordinators on one job all end with the weights of an undisturbed run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedisServer } from '../../../test-support/servers';
import type { TestCluster } from '../../../test-support/cluster';
import { clusterWithReference } from './fixtures';

describe('recovery of the coordinator and of Redis', () => {
  let cluster: TestCluster;
  let spec: string;
  let reference: Buffer;

  beforeAll(async () => {
    ({ cluster, spec, reference } = await clusterWithReference('recovery'));
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('resumes a coordinator killed with SIGKILL to bit-identical weights', async () => {
    // Slow shards so that the kill lands mid-run, after the checkpoint at step 3.
    const slow = { LSTM_INJECT_SHARD_DELAY_MS: '150' };
    const first = cluster.lstm(['train', spec, '--local-workers', '2', '--job-id', 'killed'], slow);
    await cluster.waitFor('killed', (s) => s.step >= 4);
    first.kill('SIGKILL');
    await first.exited;
    const before = await cluster.status('killed');
    expect(before.state).toBe('running');
    const resumed = await cluster.run(['resume', 'killed', '--local-workers', '2']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const after = await cluster.status('killed');
    expect(after).toMatchObject({ state: 'completed', step: 8 });
    expect(after.generation).toBeGreaterThan(before.generation);
    await cluster.expectSameWeights('killed', 'reference', reference);
  });

  it('notices a Redis that came back empty and resumes from the last checkpoint', async () => {
    const redis = await startRedisServer();
    try {
      const run = cluster.lstm(['train', spec, '--local-workers', '2', '--job-id', 'redis-lost', '--redis', redis.url], {
        LSTM_INJECT_SHARD_DELAY_MS: '150',
        REDIS_URL: redis.url,
      });
      await cluster.waitFor('redis-lost', (s) => s.step >= 5);
      redis.kill();
      const replacement = await startRedisServer(redis.port);
      try {
        const code = await run.exited;
        expect(code, run.stderr()).toBe(0);
        expect(run.stderr()).toContain('Redis lost the state');
        await cluster.expectSameWeights('redis-lost', 'reference', reference);
      } finally {
        replacement.stop();
      }
    } finally {
      redis.stop();
    }
  });

  it('lets one of two coordinators own a job while the other waits; both agree', async () => {
    const submitted = await cluster.run(['train', spec, '--job-id', 'two-owners']);
    expect(submitted.code, submitted.stderr).toBe(0);
    const slow = { LSTM_INJECT_SHARD_DELAY_MS: '100' };
    const a = cluster.lstm(['resume', 'two-owners', '--local-workers', '1'], slow);
    const b = cluster.lstm(['resume', 'two-owners', '--local-workers', '1'], slow);
    const [codeA, codeB] = await Promise.all([a.exited, b.exited]);
    expect(codeA, a.stderr()).toBe(0);
    expect(codeB, b.stderr()).toBe(0);
    // Exactly one ran the steps; the other found the job completed when it got the lease.
    const ran = [a, b].filter((p) => p.stderr().includes('generation 1, from step 0'));
    expect(ran).toHaveLength(1);
    await cluster.expectSameWeights('two-owners', 'reference', reference);
  });

  it('fences a coordinator stopped past its lease: the history and weights are those of an undisturbed run', async () => {
    const slow = { LSTM_INJECT_SHARD_DELAY_MS: '150' };
    const first = cluster.lstm(['train', spec, '--local-workers', '1', '--job-id', 'fenced'], slow);
    await cluster.waitFor('fenced', (s) => s.step >= 4);
    first.kill('SIGSTOP');
    await cluster.waitForLeaseExpiry('fenced');
    const second = cluster.lstm(['resume', 'fenced', '--local-workers', '1'], slow);
    await cluster.waitFor('fenced', (s) => s.step >= 7);
    // The first wakes with writes in flight: none of them may take effect.
    first.kill('SIGCONT');
    expect(await second.exited, second.stderr()).toBe(0);
    await first.exited;
    expect(await cluster.status('fenced')).toMatchObject({ state: 'completed', step: 8 });
    await cluster.expectSameWeights('fenced', 'reference', reference);
    expect(await cluster.firstDivergence('fenced', 'reference')).toBeNull();
  });

  it('resumes a job whose coordinator services are killed one after the other (found by the soak)', async () => {
    // Each kill leaves the job's run active in the control queue, held by a dead service:
    // the next service must get it back soon, however many services died holding it.
    const worker = cluster.worker({ LSTM_INJECT_SHARD_DELAY_MS: '150' });
    let coordinator = cluster.lstm(['coordinator']);
    const submitted = await cluster.run(['train', spec, '--job-id', 'services-killed']);
    expect(submitted.code, submitted.stderr).toBe(0);
    for (const step of [3, 6]) {
      await cluster.waitFor('services-killed', (s) => s.step >= step);
      coordinator.kill('SIGKILL');
      await coordinator.exited;
      coordinator = cluster.lstm(['coordinator']);
    }
    await cluster.waitFor('services-killed', (s) => s.state === 'completed', 60_000);
    await cluster.expectSameWeights('services-killed', 'reference', reference);
    worker.kill('SIGTERM');
    coordinator.kill('SIGTERM');
  });

  it('has a coordinator service pick up, when it starts, a job whose coordinator died', async () => {
    const first = cluster.lstm(['train', spec, '--local-workers', '1', '--job-id', 'orphan'], { LSTM_INJECT_SHARD_DELAY_MS: '150' });
    await cluster.waitFor('orphan', (s) => s.step >= 4);
    first.kill('SIGKILL');
    await first.exited;
    const coordinator = cluster.lstm(['coordinator']);
    const worker = cluster.worker();
    await cluster.waitFor('orphan', (s) => s.state === 'completed', 90_000);
    expect(coordinator.stderr()).toContain('picking it up');
    await cluster.expectSameWeights('orphan', 'reference', reference);
    worker.kill('SIGTERM');
    coordinator.kill('SIGTERM');
  });
});
