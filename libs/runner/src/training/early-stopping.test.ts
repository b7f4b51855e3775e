import { describe, expect, it } from 'vitest';
import type { EarlyStoppingCount, ValidationState } from '@lstm-runner/job-store';
import type { EarlyStoppingSpec } from '@lstm-runner/protocol';
import { countValidation, earlyStopDue, runEnding } from './early-stopping';

const rule = (patience: number, minDelta = 0, restoreBest = true): EarlyStoppingSpec => ({ patience, minDelta, restoreBest });

/** The counts after each loss, and the index of the validation after which the run stops (-1: never). */
function replay(spec: EarlyStoppingSpec, losses: readonly number[]): { counts: EarlyStoppingCount[]; stopsAfter: number } {
  const counts: EarlyStoppingCount[] = [];
  let count: EarlyStoppingCount | undefined;
  let stopsAfter = -1;
  losses.forEach((loss, i) => {
    if (stopsAfter >= 0) return;
    count = countValidation(spec, count, loss);
    counts.push(count);
    if (earlyStopDue(spec, { lastLoss: loss, bestLoss: null, bestStep: null, earlyStopping: count })) stopsAfter = i;
  });
  return { counts, stopsAfter };
}

describe('the early-stopping count', () => {
  it('stops after `patience` validations in a row that do not improve', () => {
    expect(replay(rule(2), [1, 0.9, 0.95, 0.9, 0.8]).stopsAfter).toBe(3);
    // An improvement resets the count; an equal loss is no improvement.
    expect(replay(rule(2), [1, 1.1, 0.9, 1.0, 0.95, 0.7]).stopsAfter).toBe(4);
    expect(replay(rule(1), [1, 1]).stopsAfter).toBe(1);
    expect(replay(rule(3), [1, 0.9, 0.8, 0.7]).stopsAfter).toBe(-1);
  });

  it('with minDelta, measures improvements from the last one that counted (Keras), so small ones add up', () => {
    const { counts, stopsAfter } = replay(rule(3, 0.1), [1, 0.95, 0.92, 0.89, 0.85, 0.84, 0.83, 0.82]);
    // 0.95, 0.92 are within 0.1 of 1; 0.89 is 0.11 below it: a new reference.
    expect(counts.map((c) => c.staleValidations)).toEqual([0, 1, 2, 0, 1, 2, 3]);
    expect(counts[3]!.referenceLoss).toBe(0.89);
    expect(stopsAfter).toBe(6);
  });

  it('is never due without a rule or before the first validation', () => {
    const stale: ValidationState = { lastLoss: 1, bestLoss: 1, bestStep: 1, earlyStopping: { referenceLoss: 1, staleValidations: 9 } };
    expect(earlyStopDue(undefined, stale)).toBe(false);
    expect(earlyStopDue(rule(1), { lastLoss: null, bestLoss: null, bestStep: null })).toBe(false);
    expect(earlyStopDue(rule(9), stale)).toBe(true);
  });
});

describe('runEnding', () => {
  const validation: ValidationState = {
    lastLoss: 0.5,
    bestLoss: 0.41234,
    bestStep: 30,
    bestCheckpoint: 'jobs/j/checkpoints/0000000030-t2/',
    earlyStopping: { referenceLoss: 0.41234, staleValidations: 3 },
  };

  it('ends a stopped run with its best checkpoint and says so', () => {
    expect(runEnding('j', rule(3), validation, 45, 100)).toEqual({
      final: { step: 30, prefix: 'jobs/j/checkpoints/0000000030-t2/' },
      message:
        'stopped early at step 45 of 100: the validation loss did not improve in 3 validations; best step 30 (validation loss 0.4123), whose weights the job ends with',
    });
    expect(runEnding('j', rule(3, 0.01, false), validation, 45, 100)).toEqual({
      message:
        'stopped early at step 45 of 100: the validation loss did not improve by more than 0.01 in 3 validations; best step 30 (validation loss 0.4123)',
    });
  });

  it('restores the best of a run that did not stop early too, and changes nothing when the last step is the best', () => {
    expect(runEnding('j', rule(3), validation, 100, 100)).toMatchObject({
      final: { step: 30 },
      message: 'best step 30 (validation loss 0.4123), whose weights the job ends with',
    });
    expect(runEnding('j', rule(3), { ...validation, bestStep: 100 }, 100, 100)).toEqual({});
    expect(runEnding('j', rule(3, 0, false), validation, 100, 100)).toEqual({});
    expect(runEnding('j', undefined, validation, 45, 100)).toEqual({});
  });

  it('fails the job rather than end with weights it cannot name', () => {
    const { bestCheckpoint: _unknown, ...withoutPrefix } = validation;
    expect(() => runEnding('j', rule(3), withoutPrefix, 45, 100)).toThrow('job j: the checkpoint of the best step 30 is not known');
  });
});
