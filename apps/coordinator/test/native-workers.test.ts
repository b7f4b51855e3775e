// The runner's determinism guarantees with native (oneDNN) workers, real processes, a real
// redis-server and s3rver: 1 and 3 workers, a worker SIGKILLed mid-shard and a coordinator
// SIGKILLed then resumed all end with the weights of an undisturbed 1-worker run, bit for bit.
import { nativeAvailability } from '@lstm-runner/lstm-native';
import { readJobRecord } from '@lstm-runner/job-store';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestCluster } from '../../../test-support/cluster';
import { describeIfAvailable } from '../../../test-support/requirements';
import { injectedServers, tinySpec } from './fixtures';

const describeNative = describeIfAvailable('native', nativeAvailability());
const NATIVE_WORKER = ['--backend', 'native'];

describeNative('distributed training on native workers', () => {
  let cluster: TestCluster;
  let spec: string;
  let reference: Buffer;

  beforeAll(async () => {
    cluster = new TestCluster(injectedServers(), 'native');
    spec = cluster.writeSpec('native.yaml', tinySpec(cluster.sensorSubset(1500)).replace('backend: wasm', 'backend: native'));
    const run = await cluster.run(['train', spec, '--local-workers', '1', '--job-id', 'reference']);
    expect(run.code, run.stderr).toBe(0);
    expect((await readJobRecord(cluster.store, 'reference')).profile.backend).toBe('native');
    reference = await cluster.finalWeights('reference');
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('gives bit-identical weights with 1 worker and with 3 workers', async () => {
    const run = await cluster.run(['train', spec, '--local-workers', '3', '--job-id', 'three-workers']);
    expect(run.code, run.stderr).toBe(0);
    await cluster.expectSameWeights('three-workers', 'reference', reference);
  });

  it('completes identically when a worker is SIGKILLed in the middle of a shard', async () => {
    const coordinator = cluster.lstm(['coordinator'], { LSTM_STRAGGLER_MIN_MS: '600000' });
    const slow = cluster.worker({ LSTM_INJECT_SHARD_DELAY_MS: '1500' }, NATIVE_WORKER);
    const healthy = cluster.worker({}, NATIVE_WORKER);
    const submitted = await cluster.run(['train', spec, '--job-id', 'worker-killed']);
    expect(submitted.code, submitted.stderr).toBe(0);
    await cluster.waitFor('worker-killed', (s) => s.step >= 2);
    await cluster.shardInHandOf(slow.pid, 500);
    slow.kill('SIGKILL');
    await cluster.waitFor('worker-killed', (s) => s.state === 'completed', 90_000);
    await cluster.expectSameWeights('worker-killed', 'reference', reference);
    healthy.kill('SIGTERM');
    coordinator.kill('SIGTERM');
    expect(await coordinator.exited).toBe(0);
  });

  it('resumes a coordinator killed with SIGKILL to bit-identical weights', async () => {
    const slow = { LSTM_INJECT_SHARD_DELAY_MS: '150' };
    const first = cluster.lstm(['train', spec, '--local-workers', '2', '--job-id', 'killed'], slow);
    await cluster.waitFor('killed', (s) => s.step >= 4);
    first.kill('SIGKILL');
    await first.exited;
    expect((await cluster.status('killed')).state).toBe('running');
    const resumed = await cluster.run(['resume', 'killed', '--local-workers', '2']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(await cluster.status('killed')).toMatchObject({ state: 'completed', step: 8 });
    await cluster.expectSameWeights('killed', 'reference', reference);
  });
});
