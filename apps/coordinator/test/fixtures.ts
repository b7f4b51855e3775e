// The job the distributed tests train: small enough that a run takes seconds, big enough
// for several shards per step, checkpoints and validations; and a cluster with a reference
// run of it, undisturbed, to compare every other run's final weights with.
import { expect, inject } from 'vitest';
import { TestCluster, type ClusterOptions } from '../../../test-support/cluster';

/** The test run's redis-server and s3rver (from the global setup). */
export function injectedServers(): ClusterOptions {
  return { redisUrl: inject('redisUrl'), s3Endpoint: inject('s3Endpoint'), s3Bucket: inject('s3Bucket') };
}

export interface ReferenceCluster {
  readonly cluster: TestCluster;
  readonly spec: string;
  /** Final weights of job 'reference': the spec trained by one worker, undisturbed. */
  readonly reference: Buffer;
}

export async function clusterWithReference(name: string): Promise<ReferenceCluster> {
  const cluster = new TestCluster(injectedServers(), name);
  const spec = cluster.writeSpec('tiny.yaml', tinySpec(cluster.sensorSubset(1500)));
  const run = await cluster.run(['train', spec, '--local-workers', '1', '--job-id', 'reference']);
  expect(run.code, run.stderr).toBe(0);
  return { cluster, spec, reference: await cluster.finalWeights('reference') };
}

export function tinySpec(
  csvPath: string,
  overrides: { name?: string; learningRate?: number; optimizer?: string; maxSteps?: number; batchSize?: number; shardSize?: number } = {},
): string {
  const optimizer = overrides.optimizer ?? `{ type: adam, learningRate: ${overrides.learningRate ?? 0.01} }`;
  return `name: ${overrides.name ?? 'tiny'}
data:
  source: ${csvPath}
  format: csv
  csv: { features: [humidity, temperature], targets: [temperature] }
  window: { lookBack: 10 }
  validation: 0.1
model: { layers: [8] }
training:
  epochs: 1
  batchSize: ${overrides.batchSize ?? 32}
  shardSize: ${overrides.shardSize ?? 8}
  optimizer: ${optimizer}
  clipNorm: 5
  seed: 3
  maxSteps: ${overrides.maxSteps ?? 8}
  checkpointEvery: 3
  validateEvery: 4
  profile: { backend: wasm, threads: 1 }
`;
}
