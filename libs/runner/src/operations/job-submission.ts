// Creating a job: prepare (or find) its dataset, derive the model from the spec and the
// data, and write jobs/<id>/spec.json and a queued latest.json. Running it is someone
// else's business (an embedded coordinator, or the service through the control queue).
import { randomBytes } from 'node:crypto';
import type { ModelSpec } from '@lstm-runner/lstm-core';
import { parameterLayout } from '@lstm-runner/lstm-core';
import { prepareDataset, shuffleForNewJob, WindowLayout, type ByteSource, type DatasetManifest } from '@lstm-runner/data';
import { shardPlanOf, updateJobPointer, writeJobRecord, type JobPointer, type JobRecord } from '@lstm-runner/job-store';
import { jobSpecKey, SPEC_DEFAULTS, validateJobId, type JobSpec, type NumericsProfile } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { CURRENT_REDUCTION_VERSION } from '../training/reduction-tree';

/**
 * The network a spec trains on a dataset: input and head sizes come from the data; the init
 * and the output mode are recorded explicitly (the spec's, else those of the model a warm
 * start continues, else today's defaults), so that a job keeps them when the defaults change
 * and a retrained model keeps the objective it was trained with.
 */
export function modelSpecOf(spec: JobSpec, manifest: DatasetManifest, continues?: ModelSpec): ModelSpec {
  const init = spec.model.init ?? continues?.init ?? SPEC_DEFAULTS.init[manifest.kind];
  if (manifest.kind === 'text') {
    const classes = manifest.text.vocabularySize;
    return {
      input: { kind: 'tokens', vocabulary: classes, embedding: spec.model.embedding ?? SPEC_DEFAULTS.embedding },
      layers: spec.model.layers,
      head: { kind: 'classification', classes },
      init,
      output: spec.model.output ?? continues?.output ?? SPEC_DEFAULTS.textOutput,
    };
  }
  return {
    input: { kind: 'features', size: manifest.csv.features.length },
    layers: spec.model.layers,
    head: { kind: 'regression', outputs: manifest.csv.targets.length },
    init,
    output: 'last',
  };
}

/** `<name>-<yyyymmddhhmmss>-<hex>`: sortable by creation, unique without coordination. */
export function newJobId(name: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${name
    .toLowerCase()
    .replace(/[^a-z0-9_.-]/g, '-')
    .slice(0, 40)}-${stamp}-${randomBytes(3).toString('hex')}`;
}

export interface CreateJobOptions {
  readonly store: ObjectStore;
  readonly spec: JobSpec;
  /** The dataset's bytes (a local file, or an s3:// object the app opened). */
  readonly source: ByteSource;
  readonly profile: NumericsProfile;
  readonly jobId?: string;
  /** A checkpoint prefix whose weights start the run (scheduled retraining). */
  readonly warmStartFrom?: string;
  /** Encode the data with this dataset's vocabulary or normalization (the warm start's model's). */
  readonly encodeLike?: DatasetManifest;
  /** The warm start's model: its init and output mode apply where the spec names none. */
  readonly warmStartModel?: ModelSpec;
  /** The schedule whose firing creates the job. */
  readonly scheduleId?: string;
}

export interface CreatedJob {
  readonly record: JobRecord;
  readonly manifest: DatasetManifest;
  readonly datasetCreated: boolean;
}

export async function createJob(options: CreateJobOptions): Promise<CreatedJob> {
  const { store, spec } = options;
  const jobId = options.jobId ?? newJobId(spec.name);
  validateJobId(jobId);
  if ((await store.head(jobSpecKey(jobId))) !== null) {
    throw new Error(`job ${jobId} already exists in ${store.url}; pick another --job-id or use: lstm resume ${jobId}`);
  }
  const prepared = await prepareDataset({ store, data: spec.data, source: options.source, encodeLike: options.encodeLike });
  const model = modelSpecOf(spec, prepared.manifest, options.warmStartModel);
  parameterLayout(model);
  const layout = new WindowLayout(prepared.manifest.series, spec.data.window, prepared.manifest.source.name);
  const record: JobRecord = {
    version: 1,
    id: jobId,
    name: spec.name,
    spec,
    datasetId: prepared.manifest.datasetId,
    model,
    profile: options.profile,
    totalSteps: 0,
    createdAt: new Date().toISOString(),
    ...(options.warmStartFrom === undefined ? {} : { warmStartFrom: options.warmStartFrom }),
    shuffle: shuffleForNewJob(prepared.manifest.rowsPerSegment, spec.data.window),
    ...(options.scheduleId === undefined ? {} : { scheduleId: options.scheduleId }),
    reductionVersion: CURRENT_REDUCTION_VERSION,
  };
  const plan = shardPlanOf(record, layout);
  if (spec.training.earlyStopping !== undefined && plan.validationShards === 0) {
    throw new Error(`training.earlyStopping needs validation windows; data.validation ${spec.data.validation} leaves none in this data`);
  }
  const complete: JobRecord = { ...record, totalSteps: plan.totalSteps };
  await writeJobRecord(store, complete);
  const pointer: JobPointer = {
    version: 1,
    id: jobId,
    name: spec.name,
    state: 'queued',
    generation: 0,
    fencingToken: 0,
    checkpoint: null,
    totalSteps: complete.totalSteps,
    updatedAt: new Date().toISOString(),
  };
  // Only where there is none: a job id taken meanwhile by another submitter stays theirs.
  await updateJobPointer(store, jobId, null, (current) => {
    if (current !== null) throw new Error(`job ${jobId} already exists in ${store.url}; pick another --job-id`);
    return pointer;
  });
  return { record: complete, manifest: prepared.manifest, datasetCreated: prepared.created };
}
