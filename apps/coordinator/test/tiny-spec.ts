// The job the distributed tests train: small enough that a run takes seconds, big enough
// for several shards per step, checkpoints and validations.
export function tinySpec(csvPath: string, overrides: { name?: string; learningRate?: number; optimizer?: string; maxSteps?: number } = {}): string {
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
  batchSize: 32
  shardSize: 8
  optimizer: ${optimizer}
  clipNorm: 5
  seed: 3
  maxSteps: ${overrides.maxSteps ?? 8}
  checkpointEvery: 3
  validateEvery: 4
  profile: { backend: wasm, threads: 1 }
`;
}
