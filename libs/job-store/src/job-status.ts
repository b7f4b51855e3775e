// `lstm status`: a job's state from the store (latest.json and the newest metric record).
// The shape of JobStatus is the documented `--json` output.
import { jobLatestKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { StoredObjectError } from './errors/stored-object-error';
import { readJobPointer, type JobState, type WorkerWait } from './job-pointer';
import { readLastMetric } from './metrics';

export interface JobStatus {
  readonly id: string;
  readonly name: string;
  readonly state: JobState;
  /** Optimizer steps completed. */
  readonly step: number;
  readonly totalSteps: number;
  readonly epoch: number;
  readonly trainLoss: number | null;
  readonly validationLoss: number | null;
  /** The last step's learning rate (null before the first step, and for records of earlier releases). */
  readonly learningRate: number | null;
  readonly generation: number;
  readonly checkpoint: string | null;
  readonly message: string | null;
  /**
   * A completed job whose model version (and production alias) is still being written: until
   * it is false, `--model NAME` reads the model from before it.
   */
  readonly publishing: boolean;
  /** Set while no live worker serves the job's profile. */
  readonly waitingForWorkers: WorkerWait | null;
  /** A sentence for people when something holds the job up (no worker serves its profile), else null. */
  readonly notice: string | null;
  readonly updatedAt: string;
}

/** The sentence `lstm status` and `--follow` print for a job no worker serves. */
export function waitingNotice(wait: WorkerWait): string {
  const served = wait.servedProfiles.length === 0 ? 'no worker is live' : `live workers serve ${wait.servedProfiles.join(', ')}`;
  return `waiting since ${wait.since}: no live worker serves profile ${wait.profile} (${served}); start workers of that profile`;
}

export async function jobStatus(store: ObjectStore, jobId: string): Promise<JobStatus> {
  const pointer = await readJobPointer(store, jobId);
  if (pointer === null) throw new Error(`no job ${jobId} in ${store.url}`);
  const metric = await readLastMetric(store, jobId);
  return {
    id: pointer.id,
    name: pointer.name,
    state: pointer.state,
    step: metric?.step ?? pointer.checkpoint?.step ?? 0,
    totalSteps: pointer.totalSteps,
    epoch: metric?.epoch ?? 0,
    trainLoss: metric?.trainLoss ?? null,
    validationLoss: metric?.lastValidationLoss ?? null,
    learningRate: metric?.learningRate ?? null,
    generation: pointer.generation,
    checkpoint: pointer.checkpoint?.prefix ?? null,
    message: pointer.message ?? null,
    publishing: pointer.state === 'completed' && pointer.published === false,
    waitingForWorkers: pointer.waiting ?? null,
    notice: pointer.waiting === undefined ? null : waitingNotice(pointer.waiting),
    updatedAt: metric?.time ?? pointer.updatedAt,
  };
}

/**
 * jobStatus for a reader that polls while the job's owner rewrites its pointer. On a store
 * without atomic replacement (s3rver; S3 and the directory store replace atomically) a read
 * during a write can come back torn: a StoredObjectError counts only once it repeats
 * `attempts` times, `delayMs` apart.
 */
export async function pollJobStatus(store: ObjectStore, jobId: string, attempts = 3, delayMs = 200): Promise<JobStatus> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await jobStatus(store, jobId);
    } catch (error) {
      if (!(error instanceof StoredObjectError) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/** Every job in the store, oldest first (job ids sort by creation time). */
export async function listJobIds(store: ObjectStore): Promise<string[]> {
  const suffix = jobLatestKey('x').slice(jobLatestKey('x').indexOf('x') + 1);
  const prefix = jobLatestKey('x').slice(0, jobLatestKey('x').indexOf('x'));
  const keys = await store.list(prefix);
  return keys
    .filter((key) => key.endsWith(suffix) && !key.slice(prefix.length, -suffix.length).includes('/'))
    .map((key) => key.slice(prefix.length, -suffix.length));
}
