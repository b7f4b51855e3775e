// jobs/<id>/spec.json: what a job is, written once when it is submitted.
import {
  mapping,
  modelSpecSchema,
  nonEmptyString,
  nonNegativeInteger,
  positiveInteger,
  tagged,
  type ModelSpec,
} from '@lstm-runner/lstm-core';
import type { ShuffleSettings } from '@lstm-runner/data';
import { jobSpecKey, jobSpecSchema, numericsProfileSchema, type JobSpec, type NumericsProfile } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import * as z from 'zod';
import { readStoredJson, writeStoredJson } from './stored-json';

export interface JobRecord {
  readonly version: 1;
  readonly id: string;
  readonly name: string;
  readonly spec: JobSpec;
  readonly datasetId: string;
  readonly model: ModelSpec;
  readonly profile: NumericsProfile;
  readonly totalSteps: number;
  readonly createdAt: string;
  /** Checkpoint prefix whose weights initialise the run (scheduled retraining). */
  readonly warmStartFrom?: string;
  /** How the job shuffles its windows; absent in records of earlier releases, which shuffle with version 1. */
  readonly shuffle?: ShuffleSettings;
  /** The schedule whose firing created the job, if any (a version's lineage). */
  readonly scheduleId?: string;
  /**
   * How each step's shard gradients are summed: 1, flat on the coordinator (records of
   * earlier releases have none and read as 1); 2, in a fixed tree on the workers beyond 8
   * shards a step. A job keeps the reduction it was created with.
   */
  readonly reductionVersion?: 1 | 2;
}

const shuffleSettingsSchema = tagged('version', [
  mapping({ version: z.literal(1) }),
  mapping({ version: z.literal(2), blockWindows: positiveInteger(), groupBlocks: positiveInteger() }),
]) satisfies z.ZodType<ShuffleSettings>;

/** The job's shuffle: version 1 for records written before shuffles were recorded. */
export const shuffleOf = (record: JobRecord): ShuffleSettings => record.shuffle ?? { version: 1 };

/** The job's reduction: version 1 for records written before reductions were recorded. */
export const reductionVersionOf = (record: JobRecord): 1 | 2 => record.reductionVersion ?? 1;

export const jobRecordSchema = mapping({
  version: z.literal(1),
  id: nonEmptyString(),
  name: nonEmptyString(),
  spec: jobSpecSchema,
  datasetId: nonEmptyString(),
  model: modelSpecSchema,
  profile: numericsProfileSchema,
  totalSteps: nonNegativeInteger(),
  createdAt: nonEmptyString(),
  warmStartFrom: nonEmptyString().exactOptional(),
  shuffle: shuffleSettingsSchema.exactOptional(),
  scheduleId: nonEmptyString().exactOptional(),
  reductionVersion: z.union([z.literal(1), z.literal(2)]).exactOptional(),
}) satisfies z.ZodType<JobRecord>;

export const readJobRecord = (store: ObjectStore, jobId: string): Promise<JobRecord> =>
  readStoredJson(store, jobSpecKey(jobId), jobRecordSchema);

export const writeJobRecord = (store: ObjectStore, record: JobRecord): Promise<void> =>
  writeStoredJson(store, jobSpecKey(record.id), record);
