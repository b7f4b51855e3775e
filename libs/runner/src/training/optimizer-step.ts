// One optimizer step, pure: the step's shard gradients summed in shard order, checked, clipped
// and applied. Nothing here reads or writes the store; the training loop decides what a
// rejected step means (the job fails, and no weights are written for it).
import { clipByGlobalNorm, type Optimizer } from '@lstm-runner/lstm-core';
import { aggregateShardGradients, firstNonFinite, type ShardGradient } from './gradient-sum';

export type StepResult =
  | {
      readonly kind: 'applied';
      /** The new weights [P] (a new array: the old ones stay as they were). */
      readonly params: Float32Array;
      /** Mean training loss per window. */
      readonly loss: number;
      readonly count: number;
    }
  /** Something became non-finite; `reason` says what, and no weights came of it. */
  | { readonly kind: 'rejected'; readonly reason: string };

/**
 * P = parameter count. params [P] and the step's shard gradients (summed over their windows,
 * any order) -> the weights after one optimizer step. Applies the optimizer to its state, at
 * `learningRate` when a schedule sets it (else the optimizer's own).
 */
export function optimizerStep(
  params: Float32Array,
  optimizer: Optimizer,
  shards: readonly ShardGradient[],
  clipNorm: number | undefined,
  learningRate?: number,
): StepResult {
  const aggregated = aggregateShardGradients(shards, params.length);
  if (!Number.isFinite(aggregated.loss))
    return { kind: 'rejected', reason: `the training loss became ${aggregated.loss}; no weights were written for it` };
  const badGradient = firstNonFinite(aggregated.gradient);
  if (badGradient >= 0)
    return { kind: 'rejected', reason: `the gradient is not finite (parameter ${badGradient}); no weights were written for it` };
  if (clipNorm !== undefined) clipByGlobalNorm(aggregated.gradient, clipNorm);
  const next = params.slice();
  optimizer.apply(next, aggregated.gradient, learningRate);
  const badWeight = firstNonFinite(next);
  if (badWeight >= 0)
    return { kind: 'rejected', reason: `the optimizer produced a non-finite weight (parameter ${badWeight}); it was not written` };
  return { kind: 'applied', params: next, loss: aggregated.loss, count: aggregated.count };
}
