// Learning-rate schedules as Keras offers them: a linear warmup, then cosine decay (Keras's
// CosineDecay with warmup) or step decay (ExponentialDecay with staircase=True). The rate of
// an update is a pure function of (schedule, update index, total updates): a run resumed
// from a checkpoint's step count continues the schedule exactly where it was.

export const LEARNING_RATE_DECAYS = ['none', 'cosine', 'step'] as const;
export type LearningRateDecay = (typeof LEARNING_RATE_DECAYS)[number];

export type LearningRateSchedule =
  | { readonly warmupSteps: number; readonly decay: 'none' }
  | {
      readonly warmupSteps: number;
      readonly decay: 'cosine';
      /** The rate at the end of the run as a fraction of the peak (Keras's alpha). */
      readonly finalFactor: number;
    }
  | {
      readonly warmupSteps: number;
      readonly decay: 'step';
      /** Updates between two decays. */
      readonly every: number;
      /** The rate is multiplied by this every `every` updates. */
      readonly factor: number;
    };

/**
 * The learning rate of update `step` (0-based: the update that makes weights version step+1)
 * of a run of `totalSteps` updates, for a peak rate `learningRate`. Without a schedule it is
 * `learningRate` itself. Warmup rises linearly to the peak over `warmupSteps` updates, starting
 * at learningRate/warmupSteps (Keras starts at its initial rate, commonly 0, which spends the
 * first update at rate 0); the decay then counts its updates from the end of the warmup.
 */
export function scheduledLearningRate(
  learningRate: number,
  schedule: LearningRateSchedule | undefined,
  step: number,
  totalSteps: number,
): number {
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`step must be a non-negative integer, got ${step}`);
  if (schedule === undefined) return learningRate;
  const { warmupSteps } = schedule;
  if (step < warmupSteps) return (learningRate * (step + 1)) / warmupSteps;
  const decayed = step - warmupSteps;
  switch (schedule.decay) {
    case 'none':
      return learningRate;
    case 'cosine': {
      // From the peak at the warmup's end to finalFactor x peak at the end of the run.
      const decaySteps = totalSteps - warmupSteps;
      const progress = decaySteps <= 0 ? 1 : Math.min(decayed, decaySteps) / decaySteps;
      const cosine = 0.5 * (1 + Math.cos(Math.PI * progress));
      return learningRate * ((1 - schedule.finalFactor) * cosine + schedule.finalFactor);
    }
    case 'step':
      return learningRate * schedule.factor ** Math.floor(decayed / schedule.every);
  }
}
