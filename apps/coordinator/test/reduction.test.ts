// Reduction version 2 with real processes: 10 shards a step, so that workers sum each step's
// gradients in the fixed tree (a node of shards 0-7, one of shards 8-9, and the root). The
// tree's shape depends on the shard count alone: 1 worker and 3 workers give the same bits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readCheckpoint, readJobPointer, readJobRecord } from '@lstm-runner/job-store';
import { TestCluster } from '../../../test-support/cluster';
import { injectedServers, tinySpec } from './fixtures';

describe('reduction tree on the workers', () => {
  let cluster: TestCluster;
  let spec: string;

  beforeAll(() => {
    cluster = new TestCluster(injectedServers(), 'reduction');
    spec = cluster.writeSpec('wide.yaml', tinySpec(cluster.sensorSubset(500), { maxSteps: 2, batchSize: 40, shardSize: 4 }));
  });

  afterAll(async () => {
    await cluster.stop();
  });

  it('gives bit-identical weights with 1 worker and with 3 workers, more than 8 shards a step', async () => {
    for (const [workers, jobId] of [
      ['1', 'tree-one'],
      ['3', 'tree-three'],
    ] as const) {
      const run = await cluster.run(['train', spec, '--local-workers', workers, '--job-id', jobId]);
      expect(run.code, run.stderr).toBe(0);
      expect(await cluster.status(jobId)).toMatchObject({ state: 'completed', step: 2 });
    }
    expect((await readJobRecord(cluster.store, 'tree-three')).reductionVersion).toBe(2);
    const pointer = await readJobPointer(cluster.store, 'tree-three');
    expect((await readCheckpoint(cluster.store, pointer!.checkpoint!.prefix)).manifest.reductionVersion).toBe(2);
    await cluster.expectSameWeights('tree-three', 'tree-one', await cluster.finalWeights('tree-one'));
    // The shards' and the nodes' sums are per-step objects: none outlives its step.
    expect((await cluster.store.list('jobs/tree-three/grads/')).filter((key) => key.endsWith('.bin'))).toEqual([]);
  });
});
