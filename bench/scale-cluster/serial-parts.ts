// The parts of the coordinator's serial time, each measured alone with the coordinator's own
// functions on a model of P parameters and N shards (local directory, no latency model).
// The coordinator adds the sums at the top of the step's reduction: the N shards under
// reduction version 1 (and up to 8 shards under version 2), else the root of the tree alone.
//   ingest: reading those sums from the store, checking them (sha256 in version 1, crc32 in
//           version 2) and viewing them, all at once (each fetch starts as its sum comes in);
//   sum:    their float64 sum in order (aggregateShardGradients);
//   optimizer: clipping and Adam on the mean (optimizerStep minus the sum);
//   write:  encoding, hashing and writing the new weights (writeWeights);
//   reduceNode (version 2 beyond 8 shards, a worker's part): one node of 8 inputs
//           (reduceGradients: read, check, sum, write).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOptimizer } from '@lstm-runner/lstm-core';
import { writeWeights } from '@lstm-runner/job-store';
import { encodeFloat32Vector, viewFloat32Vector } from '@lstm-runner/protocol';
import { checksumOf, getChecked, openStore, type ObjectStore } from '@lstm-runner/storage';
import { aggregateShardGradients, optimizerStep, reduceGradients, REDUCTION_FAN_IN, reductionTree } from '@lstm-runner/runner';
import { median } from '../bench-results';

export interface SerialParts {
  readonly reductionVersion: 1 | 2;
  /** Sums the coordinator reads and adds. */
  readonly added: number;
  readonly ingestMs: number;
  readonly sumMs: number;
  readonly optimizerMs: number;
  readonly writeMs: number;
  /** A worker's reduce task of 8 inputs; null without a tree. */
  readonly reduceNodeMs: number | null;
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

/** One reduce task of REDUCTION_FAN_IN stored inputs, timed. */
async function timedReduceNode(store: ObjectStore, keys: readonly string[], checksum: string): Promise<number> {
  const inputs = keys.slice(0, REDUCTION_FAN_IN).map((gradientKey) => ({ gradientKey, gradientChecksum: checksum, loss: 1, count: 2 }));
  const task = { jobId: 'scale', generation: 1, step: 1, kind: 'reduce', shard: 0, inputs, checksum: 'crc32' } as const;
  return timed(() => reduceGradients(store, task));
}

export async function measureSerialParts(parameters: number, shards: number, reductionVersion: 1 | 2): Promise<SerialParts> {
  const dir = mkdtempSync(join(tmpdir(), 'lstm-serial-'));
  const store = openStore(dir);
  try {
    const added = reductionVersion === 2 ? reductionTree(shards).top.length : shards;
    const values = Float32Array.from({ length: parameters }, (_, p) => 1e-3 * Math.sin(p));
    const bytes = encodeFloat32Vector(values);
    const checksum = checksumOf(reductionVersion === 2 ? 'crc32' : 'sha256', bytes);
    const keys = Array.from({ length: Math.max(added, REDUCTION_FAN_IN) }, (_, shard) => `grads/${shard}.bin`);
    for (const key of keys) await store.put(key, bytes);
    const ingestMs = await timed(() =>
      Promise.all(keys.slice(0, added).map(async (key) => viewFloat32Vector(await getChecked(store, key, checksum)))),
    );
    // Distinct arrays: N copies of one would sit in the caches and flatter the sum.
    const gradients = Array.from({ length: added }, (_, shard) => ({ shard, gradient: values.slice(), loss: 1, count: 2 }));
    const sumMs = await timed(() => aggregateShardGradients(gradients, parameters));
    const config = { type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } as const;
    const optimizer = createOptimizer(config, parameters);
    const params = new Float32Array(parameters);
    const stepMs = await timed(() => optimizerStep(params, optimizer, gradients, 5));
    const writeMs = await timed(() => writeWeights(store, 'scale', 1, 1, values));
    const reduceNodeMs = added < shards ? Math.round(await timedReduceNode(store, keys, checksum)) : null;
    return {
      reductionVersion,
      added,
      ingestMs: Math.round(ingestMs),
      sumMs: Math.round(sumMs),
      optimizerMs: Math.round(stepMs - sumMs),
      writeMs: Math.round(writeMs),
      reduceNodeMs,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
