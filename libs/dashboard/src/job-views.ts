// What the dashboard says about a job: its `lstm status --json` fields, and what a person
// watching it wants besides: the profile and whether a live worker serves it, epochs,
// progress, windows/s and an ETA while it runs, its checkpoints, its loss curves (downsampled).
import { isFinalState, type JobRecord, type JobStatus } from '@lstm-runner/job-store';
import { checkpointKeys, checkpointsPrefix, formatNumericsProfile, parseStoreKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { downsample, type Point } from './downsample';
import { msPerStep, type MetricHistory } from './metric-history';

export interface JobSummary extends JobStatus {
  /** The numerics profile its shards need, in string form. */
  readonly profile: string;
  readonly epochs: number;
  /** step / totalSteps, 0 to 1. */
  readonly progress: number;
  /** The last step's training windows per second, while it runs. */
  readonly windowsPerSecond: number | null;
  /** Seconds to the last step at the recent pace, while it runs. */
  readonly etaSeconds: number | null;
  /** Live workers that serve its profile now. */
  readonly liveWorkers: number;
  /** Queued or running, and no live worker serves its profile: it cannot move. */
  readonly noLiveWorker: boolean;
}

export interface CheckpointView {
  readonly step: number;
  readonly prefix: string;
  /** The one latest.json points at: where a resume starts. */
  readonly latest: boolean;
}

export interface LossCurves {
  /** Metric records the job has (one per step done). */
  readonly records: number;
  /** The most points a series was cut to (null: every record). */
  readonly limit: number | null;
  readonly train: Point[];
  readonly validation: Point[];
}

export interface JobDetail {
  readonly job: JobSummary;
  readonly checkpoints: CheckpointView[];
  readonly metrics: LossCurves;
}

export function summarize(
  status: JobStatus,
  record: JobRecord,
  history: MetricHistory | null,
  liveProfiles: readonly string[],
  now: number,
): JobSummary {
  const profile = formatNumericsProfile(record.profile);
  const running = status.state === 'running';
  const last = history?.recent[history.recent.length - 1];
  const pace = history === null ? null : msPerStep(history.recent);
  const liveWorkers = liveProfiles.filter((served) => served === profile).length;
  // A step's time measured long ago says nothing of a run that is not moving now.
  const moving = running && last !== undefined && now - last.wallTimeMs < 10 * Math.max(pace ?? 0, 60_000);
  return {
    ...status,
    profile,
    epochs: record.spec.training.epochs,
    progress: status.totalSteps === 0 ? 0 : Math.min(1, status.step / status.totalSteps),
    windowsPerSecond: moving ? last.windowsPerSecond : null,
    etaSeconds: moving && pace !== null ? Math.round(((status.totalSteps - status.step) * pace) / 1000) : null,
    liveWorkers,
    noLiveWorker: !isFinalState(status.state) && liveWorkers === 0,
  };
}

/** The job's complete checkpoints (their manifest is written last), by step. */
export async function listCheckpoints(store: ObjectStore, jobId: string, latestPrefix: string | null): Promise<CheckpointView[]> {
  const checkpoints: CheckpointView[] = [];
  for (const key of await store.list(checkpointsPrefix(jobId))) {
    const info = parseStoreKey(key);
    if (info?.kind !== 'checkpoint' || info.file !== 'manifest') continue;
    const { prefix } = checkpointKeys(jobId, info.step, info.token);
    checkpoints.push({ step: info.step, prefix, latest: prefix === latestPrefix });
  }
  // Several owners may have written a step (each under its token): the latest one's is listed last.
  return checkpoints.sort((a, b) => a.step - b.step || a.prefix.localeCompare(b.prefix));
}

/** The loss curves, each cut to at most `limit` points (null: all of them). */
export function lossCurves(history: MetricHistory, limit: number | null): LossCurves {
  const cut = (xs: Float64Array, ys: Float64Array): Point[] =>
    limit === null ? Array.from(xs, (x, i) => [x, ys[i]!] as const) : downsample(xs, ys, limit);
  return {
    records: history.steps.length,
    limit,
    train: cut(history.steps, history.trainLoss),
    validation: cut(history.validationSteps, history.validationLoss),
  };
}
