// jobs/<id>/latest.json: where a job stands. Written last, after what it points at: the
// atomic switch that readers follow.
import { mapping, nonEmptyString, nonNegativeInteger, oneOf } from '@lstm-runner/lstm-core';
import { jobLatestKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import * as z from 'zod';
import { readStoredJsonIfExists, writeStoredJson } from './stored-json';

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
  updatedAt: nonEmptyString(),
}) satisfies z.ZodType<JobPointer>;

export const readJobPointer = (store: ObjectStore, jobId: string): Promise<JobPointer | null> =>
  readStoredJsonIfExists(store, jobLatestKey(jobId), jobPointerSchema);

export const writeJobPointer = (store: ObjectStore, pointer: JobPointer): Promise<void> =>
  writeStoredJson(store, jobLatestKey(pointer.id), pointer);
