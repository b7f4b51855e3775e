// The spec's rules for how a run's learning rate moves and when it ends early:
// training.learningRateSchedule (lstm-core's scheduledLearningRate computes the rates) and
// training.earlyStopping (the runner's stop decision). Both are absent unless written: a spec
// without them trains exactly as before they existed.
import * as z from 'zod';
import {
  booleanField,
  expecting,
  LEARNING_RATE_DECAYS,
  mapping,
  nonNegativeInteger,
  oneOf,
  positiveInteger,
  type LearningRateSchedule,
} from '@lstm-runner/lstm-core';

/** Keras's EarlyStopping on the validation loss, counted in validations. */
export interface EarlyStoppingSpec {
  /** Validations in a row without an improvement of at least minDelta after which the run stops. */
  readonly patience: number;
  /** How much lower than the best so far a validation loss must be to count as an improvement. */
  readonly minDelta: number;
  /** End with the weights of the lowest validation loss (its checkpoint), not the last ones. */
  readonly restoreBest: boolean;
}

const EARLY_STOPPING_DEFAULTS = { minDelta: 0, restoreBest: true } as const;

const DECAY_FIELDS = { none: [], cosine: ['finalFactor'], step: ['every', 'factor'] } as const;
const DECAY_ONLY = ['finalFactor', 'every', 'factor'] as const;

/** A number in (0, 1): a step decay's factor (0 would stop learning, 1 would not decay). */
function openFraction(): z.ZodNumber {
  const what = expecting('a number in (0, 1)');
  return z.number(what).gt(0, what).lt(1, what);
}

function atLeastZero(): z.ZodNumber {
  const what = expecting('a number >= 0');
  return z.number(what).min(0, what);
}

export const learningRateScheduleSchema = mapping({
  warmupSteps: nonNegativeInteger().default(0),
  decay: oneOf(LEARNING_RATE_DECAYS).default('none'),
  finalFactor: z
    .number(expecting('a number in [0, 1]'))
    .min(0, expecting('a number in [0, 1]'))
    .max(1, expecting('a number in [0, 1]'))
    .optional(),
  every: positiveInteger().optional(),
  factor: openFraction().optional(),
})
  .superRefine((schedule, context) => {
    const own: readonly string[] = DECAY_FIELDS[schedule.decay];
    for (const key of DECAY_ONLY) {
      if (schedule[key] !== undefined && !own.includes(key))
        context.addIssue({ code: 'custom', path: [key], message: `does not apply to decay ${schedule.decay}` });
    }
    if (schedule.decay === 'step') {
      for (const key of ['every', 'factor'] as const) {
        if (schedule[key] === undefined) context.addIssue({ code: 'custom', path: [key], message: 'is required for decay step' });
      }
    }
  })
  .transform((s): LearningRateSchedule => {
    if (s.decay === 'cosine') return { warmupSteps: s.warmupSteps, decay: 'cosine', finalFactor: s.finalFactor ?? 0 };
    if (s.decay === 'step') return { warmupSteps: s.warmupSteps, decay: 'step', every: s.every!, factor: s.factor! };
    return { warmupSteps: s.warmupSteps, decay: 'none' };
  });

export const earlyStoppingSchema = mapping({
  patience: positiveInteger(),
  minDelta: atLeastZero().default(EARLY_STOPPING_DEFAULTS.minDelta),
  restoreBest: booleanField().default(EARLY_STOPPING_DEFAULTS.restoreBest),
}) satisfies z.ZodType<EarlyStoppingSpec, unknown>;
