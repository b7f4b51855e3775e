// A reduce task: one node of a step's reduction tree (training/reduction-tree.ts). It reads
// its inputs from the store, adds them in input order in float64 from 0 (the sum of
// gradient-sum.ts) and writes the node's float32 sum. No model, no backend: any worker of the
// job's queue serves it, on a compute thread so that the BullMQ worker's lock renewal goes on.
import { encodeFloat32Vector, reducedGradientKey, viewFloat32Vector, type ReduceJobData, type ReduceResult } from '@lstm-runner/protocol';
import { checksumOf, getChecked, type ObjectStore } from '@lstm-runner/storage';
import { sumGradients } from '../training/gradient-sum';

export async function reduceGradients(store: ObjectStore, task: ReduceJobData): Promise<ReduceResult> {
  const started = performance.now();
  // Views of the fetched bytes: each is read once, by the sum.
  const gradients = await Promise.all(
    task.inputs.map(async (input) => viewFloat32Vector(await getChecked(store, input.gradientKey, input.gradientChecksum))),
  );
  const parameters = gradients[0]?.length;
  if (parameters === undefined) throw new RangeError(`reduce task ${task.shard} of step ${task.step} has no inputs`);
  gradients.forEach((gradient, i) => {
    if (gradient.length !== parameters)
      throw new RangeError(`reduce task ${task.shard}: input ${i} has ${gradient.length} values, input 0 has ${parameters}`);
  });
  const sum = new Float32Array(parameters);
  sumGradients(gradients, sum, 1);
  let loss = 0;
  let count = 0;
  for (const input of task.inputs) {
    loss += input.loss;
    count += input.count;
  }
  const bytes = encodeFloat32Vector(sum);
  const key = reducedGradientKey(task.jobId, task.generation, task.step, task.shard);
  await store.put(key, bytes);
  const gradientChecksum = checksumOf(task.checksum, bytes);
  return { kind: 'reduce', gradientKey: key, gradientChecksum, loss, count, computeMs: performance.now() - started };
}
