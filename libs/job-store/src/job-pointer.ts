// jobs/<id>/latest.json: where a job stands. Written last, after what it points at: the
// atomic switch that readers follow.
import { mapping, nonEmptyString, nonNegativeInteger, oneOf } from '@lstm-runner/lstm-core';
import { jobLatestKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import * as z from 'zod';
import { StaleOwnerError } from './errors/stale-owner-error';
import { parseStoredJson, readStoredJsonIfExists } from './stored-json';

export const JOB_STATES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Completed, failed and cancelled jobs never run again (a resume reopens the latter two). */
export function isFinalState(state: JobState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

export interface CheckpointRef {
  readonly step: number;
  /** jobs/<id>/checkpoints/<step>/ */
  readonly prefix: string;
}

/** Set while no live worker serves the job's profile (for longer than the coordinator's grace). */
export interface WorkerWait {
  /** The job's profile, in string form. */
  readonly profile: string;
  /** Since when no live worker served it (ISO time). */
  readonly since: string;
  /** The profiles live workers served when it was noticed. */
  readonly servedProfiles: readonly string[];
}

export interface JobPointer {
  readonly version: 1;
  readonly id: string;
  readonly name: string;
  readonly state: JobState;
  readonly generation: number;
  readonly fencingToken: number;
  readonly checkpoint: CheckpointRef | null;
  readonly totalSteps: number;
  readonly message?: string;
  readonly waiting?: WorkerWait;
  /** Of a completed job: false until its model pointers are written (absent: published, or a release before this field). */
  readonly published?: boolean;
  readonly updatedAt: string;
}

export const checkpointRefSchema = mapping({ step: nonNegativeInteger(), prefix: nonEmptyString() });

export const jobPointerSchema = mapping({
  version: z.literal(1),
  id: nonEmptyString(),
  name: nonEmptyString(),
  state: oneOf(JOB_STATES),
  generation: nonNegativeInteger(),
  fencingToken: nonNegativeInteger(),
  checkpoint: checkpointRefSchema.nullable(),
  totalSteps: nonNegativeInteger(),
  message: z.string().exactOptional(),
  waiting: mapping({ profile: nonEmptyString(), since: nonEmptyString(), servedProfiles: z.array(z.string()) }).exactOptional(),
  published: z.boolean().exactOptional(),
  updatedAt: nonEmptyString(),
}) satisfies z.ZodType<JobPointer>;

export const readJobPointer = (store: ObjectStore, jobId: string): Promise<JobPointer | null> =>
  readStoredJsonIfExists(store, jobLatestKey(jobId), jobPointerSchema);

/** What an update of the pointer does with the current one: the next pointer, or null to leave it as it is. */
export type PointerUpdate = (current: JobPointer | null) => JobPointer | null;

/**
 * Moves the job pointer by compare-and-set: reads it with its version, refuses (a
 * StaleOwnerError) when it holds a higher fencing token than `token`, and writes
 * `update(current)` only if nobody wrote it meanwhile; otherwise reads again. `token` null:
 * a writer that owns no lease (submitting, reopening, cancelling an unowned job), which
 * never checks tokens but still never overwrites a write it has not seen. Returns the
 * pointer as it stands afterwards.
 */
export async function updateJobPointer(
  store: ObjectStore,
  jobId: string,
  token: number | null,
  update: PointerUpdate,
): Promise<JobPointer | null> {
  const key = jobLatestKey(jobId);
  for (;;) {
    const stored = await store.getVersioned(key);
    const current =
      stored === null ? null : parseStoredJson(new TextDecoder().decode(stored.body), jobPointerSchema, `${store.url}/${key}`);
    if (token !== null && current !== null && current.fencingToken > token) throw new StaleOwnerError(jobId, token, current.fencingToken);
    const next = update(current);
    if (next === null) return current;
    if (await store.putIfVersion(key, `${JSON.stringify(next, null, 2)}\n`, stored?.version ?? null)) return next;
  }
}
