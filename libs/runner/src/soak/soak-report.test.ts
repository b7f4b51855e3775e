import { describe, expect, it } from 'vitest';
import { compareRuns, formatSoakReport, soakReport, stepsRedone, type FaultRecord } from './soak-report';

const record = (step: number, trainLoss = step / 10, validationLoss: number | null = null) => ({ step, trainLoss, validationLoss });

describe('compareRuns', () => {
  const reference = [record(1), record(2, 0.2, 0.25), record(3), record(4)];

  it('finds nothing lost in identical records', () => {
    expect(compareRuns(reference, [...reference])).toEqual({
      missingRecords: 0,
      differentRecords: 0,
      duplicateRecords: 0,
      firstDifference: null,
    });
  });

  it('counts missing, different and duplicated records', () => {
    const soak = [record(1), record(2, 0.2, 0.26), record(2, 0.2, 0.25), record(4, 0.41)];
    expect(compareRuns(reference, soak)).toEqual({ missingRecords: 1, differentRecords: 2, duplicateRecords: 1, firstDifference: 2 });
  });
});

describe('soakReport', () => {
  const fault = (kind: FaultRecord['kind'], survived: boolean): FaultRecord => ({
    index: 0,
    kind,
    atStep: 3,
    delayMs: 0,
    worker: 0,
    durationMs: 0,
    firedAtMs: 100,
    stepAtFault: 3,
    survived,
    detail: '',
  });

  it('counts steps redone from each replay back to its checkpoint', () => {
    expect(stepsRedone([])).toBe(0);
    expect(
      stepsRedone([
        { fromStep: 10, reachedStep: 14 },
        { fromStep: 20, reachedStep: 20 },
        { fromStep: 5, reachedStep: 3 },
      ]),
    ).toBe(4);
  });

  it('sums what was lost and the extra wall time', () => {
    const report = soakReport({
      seed: 1,
      steps: 10,
      workers: 2,
      faults: [fault('kill-worker', true), fault('restart-redis', true), fault('kill-worker', false)],
      replays: [{ fromStep: 3, reachedStep: 5 }],
      injectedStoreErrors: 7,
      completed: true,
      weightsIdentical: false,
      comparison: { missingRecords: 0, differentRecords: 1, duplicateRecords: 0, firstDifference: 4 },
      referenceWallMs: 1000,
      soakWallMs: 2500,
    });
    expect(report).toMatchObject({
      faultsInjected: 3,
      faultsSurvived: 2,
      generations: 2,
      stepsRedone: 2,
      extraWallMs: 1500,
      lost: { total: 2, differentRecords: 1 },
    });
    expect(report.faultsByKind).toMatchObject({ 'kill-worker': 2, 'restart-redis': 1, straggler: 0 });
    const text = formatSoakReport(report);
    expect(text).toContain('faults injected: 3 (kill-worker 2, kill-coordinator 0');
    expect(text).toContain('survived: 2');
    expect(text).toContain('lost: 2');
  });
});
