import { describe, expect, it } from 'vitest';
import { decodeFloat32Vector, encodeFloat32Vector, gradientKey, type GradientSum, type ReduceJobData } from '@lstm-runner/protocol';
import { ChecksumMismatchError, checksumOf } from '@lstm-runner/storage';
import { MemoryStore } from '../../../../test-support/dataset-fixtures';
import { reduceGradients } from './gradient-reducer';

const PARAMETERS = 4099;

async function inputsIn(store: MemoryStore, count: number): Promise<{ inputs: GradientSum[]; gradients: Float32Array[] }> {
  const gradients = Array.from({ length: count }, (_, i) =>
    Float32Array.from({ length: PARAMETERS }, (_, p) => Math.fround(Math.sin(p * 3.7 + i * 11.1) * 10 ** ((p % 11) - 5))),
  );
  const inputs = await Promise.all(
    gradients.map(async (gradient, shard) => {
      const bytes = encodeFloat32Vector(gradient);
      const key = gradientKey('job-a', 2, 7, shard);
      await store.put(key, bytes);
      return { gradientKey: key, gradientChecksum: checksumOf('crc32', bytes), loss: 0.5 + shard, count: 3 };
    }),
  );
  return { inputs, gradients };
}

const task = (inputs: readonly GradientSum[]): ReduceJobData => ({
  jobId: 'job-a',
  generation: 2,
  step: 7,
  kind: 'reduce',
  shard: 4,
  inputs,
  checksum: 'crc32',
});

describe('reduceGradients', () => {
  it('writes the float32 of the left-to-right float64 sum of its inputs, with summed loss and count', async () => {
    for (const count of [2, 5, 8]) {
      const store = new MemoryStore();
      const { inputs, gradients } = await inputsIn(store, count);
      const result = await reduceGradients(store, task(inputs));
      expect(result).toMatchObject({ kind: 'reduce', gradientKey: 'jobs/job-a/grads/000002/0000000007/r000004.bin', count: 3 * count });
      expect(result.loss).toBe(inputs.reduce((sum, input) => sum + input.loss, 0));
      const bytes = await store.get(result.gradientKey);
      expect(result.gradientChecksum).toBe(checksumOf('crc32', bytes));
      const expected = new Float32Array(PARAMETERS);
      for (let p = 0; p < PARAMETERS; p++) {
        let sum = 0;
        for (const gradient of gradients) sum += gradient[p]!;
        expected[p] = sum;
      }
      expect(Buffer.from(decodeFloat32Vector(bytes).buffer).equals(Buffer.from(expected.buffer)), `${count} inputs`).toBe(true);
    }
  });

  it('refuses an input whose bytes do not match its checksum', async () => {
    const store = new MemoryStore();
    const { inputs } = await inputsIn(store, 3);
    await store.put(inputs[1]!.gradientKey, encodeFloat32Vector(new Float32Array(PARAMETERS)));
    await expect(reduceGradients(store, task(inputs))).rejects.toThrow(ChecksumMismatchError);
  });
});
