// The parts of the coordinator's serial time, each measured alone with the coordinator's own
// functions on a model of P parameters and N shards (local directory, no latency model):
//   ingest: reading N gradients from the store, checking their sha256 and viewing them, all
//           at once (the training loop starts each fetch as its shard's result comes in);
//   sum:    the float64 sum of N gradients in shard order (aggregateShardGradients);
//   optimizer: clipping and Adam on the mean (optimizerStep minus the sum);
//   write:  encoding, hashing and writing the new weights (writeWeights).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOptimizer } from '@lstm-runner/lstm-core';
import { writeWeights } from '@lstm-runner/job-store';
import { encodeFloat32Vector, viewFloat32Vector } from '@lstm-runner/protocol';
import { getVerified, openStore, sha256Hex } from '@lstm-runner/storage';
import { aggregateShardGradients, optimizerStep } from '@lstm-runner/runner';
import { median } from '../bench-results';

export interface SerialParts {
  readonly ingestMs: number;
  readonly sumMs: number;
  readonly optimizerMs: number;
  readonly writeMs: number;
}

const ROUNDS = 3;

/** The median of ROUNDS runs after one warm-up run. */
async function timed(run: () => unknown): Promise<number> {
  await run();
  const times: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return median(times);
}

export async function measureSerialParts(parameters: number, shards: number): Promise<SerialParts> {
  const dir = mkdtempSync(join(tmpdir(), 'lstm-serial-'));
  const store = openStore(dir);
  try {
    const values = Float32Array.from({ length: parameters }, (_, p) => 1e-3 * Math.sin(p));
    const bytes = encodeFloat32Vector(values);
    const sha = sha256Hex(bytes);
    const keys = Array.from({ length: shards }, (_, shard) => `grads/${shard}.bin`);
    for (const key of keys) await store.put(key, bytes);
    const ingestMs = await timed(() => Promise.all(keys.map(async (key) => viewFloat32Vector(await getVerified(store, key, sha)))));
    // Distinct arrays: N copies of one would sit in the caches and flatter the sum.
    const gradients = Array.from({ length: shards }, (_, shard) => ({ shard, gradient: values.slice(), loss: 1, count: 2 }));
    const sumMs = await timed(() => aggregateShardGradients(gradients, parameters));
    const config = { type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;
    const optimizer = createOptimizer(config, parameters);
    const params = new Float32Array(parameters);
    const stepMs = await timed(() => optimizerStep(params, optimizer, gradients, 5));
    const writeMs = await timed(() => writeWeights(store, 'scale', 1, 1, values));
    return {
      ingestMs: Math.round(ingestMs),
      sumMs: Math.round(sumMs),
      optimizerMs: Math.round(stepMs - sumMs),
      writeMs: Math.round(writeMs),
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
