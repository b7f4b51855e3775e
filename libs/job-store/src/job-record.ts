// jobs/<id>/spec.json: what a job is, written once when it is submitted.
import { mapping, modelSpecSchema, nonEmptyString, nonNegativeInteger, type ModelSpec } from '@lstm-runner/lstm-core';
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
  /** The schedule whose firing created the job, if any (a version's lineage). */
  readonly scheduleId?: string;
}

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
  scheduleId: nonEmptyString().exactOptional(),
}) satisfies z.ZodType<JobRecord>;

export const readJobRecord = (store: ObjectStore, jobId: string): Promise<JobRecord> =>
  readStoredJson(store, jobSpecKey(jobId), jobRecordSchema);

export const writeJobRecord = (store: ObjectStore, record: JobRecord): Promise<void> =>
  writeStoredJson(store, jobSpecKey(record.id), record);
