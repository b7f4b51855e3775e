// Early stopping on the validation loss, Keras's EarlyStopping counted in validations: a
// validation improves when its loss is below the last improvement's by more than minDelta;
// after `patience` validations in a row without one the run stops. The count lives in the
// validation state, which every checkpoint holds, so a resumed run stops at the same step.
// With restoreBest the run's result is the checkpoint of its lowest validation loss, which
// the loop wrote when that loss was measured: no second copy of the weights is kept.
import type { CheckpointRef, EarlyStoppingCount, ValidationState } from '@lstm-runner/job-store';
import type { EarlyStoppingSpec } from '@lstm-runner/protocol';
import { TrainingFailedError } from '../errors/training-failed-error';

/** The count after a validation of `loss`; `count` is undefined before the first validation. */
export function countValidation(rule: EarlyStoppingSpec, count: EarlyStoppingCount | undefined, loss: number): EarlyStoppingCount {
  if (count === undefined || loss < count.referenceLoss - rule.minDelta) return { referenceLoss: loss, staleValidations: 0 };
  return { referenceLoss: count.referenceLoss, staleValidations: count.staleValidations + 1 };
}

/** Whether the run must stop before its next step. */
export function earlyStopDue(rule: EarlyStoppingSpec | undefined, validation: ValidationState): boolean {
  const count = validation.earlyStopping;
  return rule !== undefined && count !== undefined && count.staleValidations >= rule.patience;
}

export interface RunEnding {
  /** The checkpoint the job ends with when it is not the last one (restoreBest). */
  readonly final?: CheckpointRef;
  /** What the completed job's pointer says, when there is more to say than its step. */
  readonly message?: string;
}

/** How a run that trained up to `step` of `totalSteps` ends under the job's early-stopping rule. */
export function runEnding(
  jobId: string,
  rule: EarlyStoppingSpec | undefined,
  validation: ValidationState,
  step: number,
  totalSteps: number,
): RunEnding {
  const { bestStep, bestLoss, bestCheckpoint } = validation;
  if (rule === undefined || bestStep === null || bestLoss === null) return {};
  const early = step < totalSteps;
  const restore = rule.restoreBest && bestStep !== step;
  if (!early && !restore) return {};
  const by = rule.minDelta > 0 ? ` by more than ${rule.minDelta}` : '';
  // The job's state already says it completed (and where): the message says only what is particular.
  const ended = early
    ? `stopped early at step ${step} of ${totalSteps}: the validation loss did not improve${by} in ${rule.patience} validations; `
    : '';
  const best = `${ended}best step ${bestStep} (validation loss ${bestLoss.toPrecision(4)})`;
  if (!restore) return { message: best };
  if (bestCheckpoint === undefined) throw new TrainingFailedError(jobId, `the checkpoint of the best step ${bestStep} is not known`);
  return { final: { step: bestStep, prefix: bestCheckpoint }, message: `${best}, whose weights the job ends with` };
}
