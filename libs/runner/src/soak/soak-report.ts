// What a soak reports (bench/results/soak.json): the faults by kind and how many the job
// survived, the steps it computed again, the wall time the faults cost, and what was lost:
// metric records missing, different or duplicated against an undisturbed run of the same
// spec, and final weights that differ. Pure: the driver gathers the facts.
import { countByKind, type FaultKind, type SoakFault } from './fault-schedule';

/** One fault as the driver carried it out. */
export interface FaultRecord extends SoakFault {
  /** ms after the soak started. */
  readonly firedAtMs: number;
  /** The job's step when it fired. */
  readonly stepAtFault: number;
  /** The job completed a step after it (or completed). */
  readonly survived: boolean;
  /** What was done, in words (which process, how long). */
  readonly detail: string;
}

/** The part of a metric record a comparison looks at. */
export interface StepRecord {
  readonly step: number;
  readonly trainLoss: number;
  readonly validationLoss: number | null;
}

export interface RunComparison {
  /** Steps of the undisturbed run the soak has no record of. */
  readonly missingRecords: number;
  /** Steps whose losses differ. */
  readonly differentRecords: number;
  /** Records of a step beyond the first. */
  readonly duplicateRecords: number;
  /** The first step that differs or is missing, if any. */
  readonly firstDifference: number | null;
}

/** The soak's records against the undisturbed run's, step by step. */
export function compareRuns(reference: readonly StepRecord[], soak: readonly StepRecord[]): RunComparison {
  const bySoakStep = new Map<number, StepRecord>();
  let duplicateRecords = 0;
  for (const record of soak) {
    if (bySoakStep.has(record.step)) duplicateRecords += 1;
    else bySoakStep.set(record.step, record);
  }
  let missingRecords = 0;
  let differentRecords = 0;
  let firstDifference: number | null = null;
  for (const expected of reference) {
    const found = bySoakStep.get(expected.step);
    const same = found !== undefined && found.trainLoss === expected.trainLoss && found.validationLoss === expected.validationLoss;
    if (found === undefined) missingRecords += 1;
    else if (!same) differentRecords += 1;
    if (!same) firstDifference ??= expected.step;
  }
  return { missingRecords, differentRecords, duplicateRecords, firstDifference };
}

/** A generation the job started after a fault: from which step, and the furthest step reached before it. */
export interface Replay {
  readonly fromStep: number;
  readonly reachedStep: number;
}

/** Steps computed again: for each replay, from its checkpoint up to where the job had got. */
export function stepsRedone(replays: readonly Replay[]): number {
  return replays.reduce((sum, replay) => sum + Math.max(0, replay.reachedStep - replay.fromStep), 0);
}

export interface SoakFacts {
  readonly seed: number;
  readonly steps: number;
  readonly workers: number;
  readonly faults: readonly FaultRecord[];
  readonly replays: readonly Replay[];
  /** Store calls that failed by injection, as the processes logged them. */
  readonly injectedStoreErrors: number;
  readonly completed: boolean;
  readonly weightsIdentical: boolean;
  readonly comparison: RunComparison;
  readonly referenceWallMs: number;
  readonly soakWallMs: number;
}

export interface SoakReport {
  readonly seed: number;
  readonly steps: number;
  readonly workers: number;
  readonly faultsInjected: number;
  readonly faultsByKind: Record<FaultKind, number>;
  readonly faultsSurvived: number;
  readonly injectedStoreErrors: number;
  readonly generations: number;
  readonly stepsRedone: number;
  readonly referenceWallMs: number;
  readonly soakWallMs: number;
  readonly extraWallMs: number;
  readonly completed: boolean;
  readonly weightsIdentical: boolean;
  readonly lost: RunComparison & { readonly total: number };
  /** Every fault, in order. */
  readonly faults: readonly FaultRecord[];
}

export function soakReport(facts: SoakFacts): SoakReport {
  const { comparison } = facts;
  const total =
    comparison.missingRecords +
    comparison.differentRecords +
    comparison.duplicateRecords +
    (facts.weightsIdentical ? 0 : 1) +
    (facts.completed ? 0 : 1);
  return {
    seed: facts.seed,
    steps: facts.steps,
    workers: facts.workers,
    faultsInjected: facts.faults.length,
    faultsByKind: countByKind(facts.faults),
    faultsSurvived: facts.faults.filter((fault) => fault.survived).length,
    injectedStoreErrors: facts.injectedStoreErrors,
    generations: facts.replays.length + 1,
    stepsRedone: stepsRedone(facts.replays),
    referenceWallMs: facts.referenceWallMs,
    soakWallMs: facts.soakWallMs,
    extraWallMs: facts.soakWallMs - facts.referenceWallMs,
    completed: facts.completed,
    weightsIdentical: facts.weightsIdentical,
    lost: { ...comparison, total },
    faults: facts.faults,
  };
}

/** The report's figures as a few lines for a terminal. */
export function formatSoakReport(report: SoakReport): string {
  const kinds = Object.entries(report.faultsByKind)
    .map(([kind, count]) => `${kind} ${count}`)
    .join(', ');
  const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  return [
    `soak: seed ${report.seed}, ${report.steps} steps, ${report.workers} workers`,
    `faults injected: ${report.faultsInjected} (${kinds}); survived: ${report.faultsSurvived}; store errors injected: ${report.injectedStoreErrors}`,
    `generations: ${report.generations}; steps redone: ${report.stepsRedone}`,
    `wall time: ${seconds(report.soakWallMs)} against ${seconds(report.referenceWallMs)} undisturbed (+${seconds(report.extraWallMs)})`,
    `completed: ${report.completed}; final weights bit-identical: ${report.weightsIdentical}; lost: ${report.lost.total}` +
      ` (missing ${report.lost.missingRecords}, different ${report.lost.differentRecords}, duplicated ${report.lost.duplicateRecords})`,
  ].join('\n');
}
