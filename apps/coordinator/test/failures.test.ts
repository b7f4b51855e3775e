// Guarantees 6 and 7: a shard that always fails and a loss that blows up stop the job with a
// clear message, and nothing bad is written: the last good checkpoint stays loadable and
// no stored weights are non-finite.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeFloat32Vector, weightsPrefix } from '@lstm-runner/protocol';
import { readCheckpoint, readJobPointer, readJobRecord } from '@lstm-runner/job-store';
import { TestCluster } from '../../../test-support/cluster';
import { injectedServers, tinySpec } from './fixtures';

describe('jobs that cannot go on', () => {
  let cluster: TestCluster;
  let csv: string;

  beforeAll(() => {
    cluster = new TestCluster(injectedServers(), 'failures');
    csv = cluster.sensorSubset(1500);
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('fails with the job, step and shard when a shard fails on every attempt; the checkpoint stays good', async () => {
    const spec = cluster.writeSpec('corrupt.yaml', tinySpec(csv, { name: 'corrupt', maxSteps: 40 }));
    const coordinator = cluster.lstm(['coordinator']);
    const worker = cluster.worker({ LSTM_INJECT_SHARD_DELAY_MS: '100' });
    const submitted = await cluster.run(['train', spec, '--job-id', 'corrupt']);
    expect(submitted.code, submitted.stderr).toBe(0);
    await cluster.waitFor('corrupt', (s) => s.step >= 4);
    // Corrupt the dataset in the store and replace the worker by one with an empty cache.
    worker.kill('SIGKILL');
    const record = await readJobRecord(cluster.store, 'corrupt');
    const segmentKey = `datasets/${record.datasetId}/segment-00000.bin`;
    const bytes = await cluster.store.get(segmentKey);
    bytes[100] = (bytes[100]! + 1) % 256;
    await cluster.store.put(segmentKey, bytes);
    const fresh = cluster.worker({}, ['--cache-dir', `${cluster.dir}/fresh-cache`]);
    await cluster.waitFor('corrupt', (s) => s.state === 'failed', 60_000);
    const pointer = await readJobPointer(cluster.store, 'corrupt');
    expect(pointer?.message).toMatch(/job corrupt step \d+ shard \d+ failed after \d+ attempts/);
    expect(pointer?.message).toContain(segmentKey);
    const checkpoint = await readCheckpoint(cluster.store, pointer!.checkpoint!.prefix);
    expect(checkpoint.manifest.step).toBeGreaterThanOrEqual(3);
    expect(checkpoint.weights.length).toBeGreaterThan(0);
    expect(checkpoint.weights.every(Number.isFinite)).toBe(true);
    fresh.kill('SIGTERM');
    coordinator.kill('SIGTERM');
  });

  it('stops a run whose loss or weights become non-finite, and never writes non-finite weights', async () => {
    const spec = cluster.writeSpec('explode.yaml', tinySpec(csv, { name: 'explode', optimizer: '{ type: sgd, learningRate: 1.0e+38 }' }));
    const run = await cluster.run(['train', spec, '--local-workers', '1', '--job-id', 'explode']);
    expect(run.code).not.toBe(0);
    const status = await cluster.status('explode');
    expect(status.state).toBe('failed');
    expect(status.message).toMatch(/not finite|non-finite|became/);
    expect(run.stderr).toContain(status.message!.split(':')[0]!);
    const written = await cluster.store.list(weightsPrefix('explode'));
    expect(written.length).toBeGreaterThan(0);
    for (const key of written) {
      const weights = decodeFloat32Vector(await cluster.store.get(key));
      expect(weights.length, key).toBeGreaterThan(0);
      expect(weights.every(Number.isFinite), key).toBe(true);
    }
  });
});
