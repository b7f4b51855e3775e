// Finding a trained model by reference: a job id (its latest checkpoint) or a model name
// (models/<name>/latest.json). Exported directories are read by the export module.
import type { ModelSpec } from '@lstm-runner/lstm-core';
import { loadManifest, type DatasetManifest, type WindowSettings } from '@lstm-runner/data';
import { jobLatestKey, modelLatestKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { readCheckpoint, readJobPointer, readJobRecord, readJsonIfExists } from './job-files';

export interface ModelPointer {
  readonly name: string;
  readonly jobId: string;
  readonly checkpoint: string;
  readonly step: number;
  readonly datasetId: string;
  readonly validationLoss: number | null;
  readonly updatedAt: string;
}

export interface TrainedModel {
  readonly name: string;
  /** Where it came from, for messages: `job <id> step <n>`. */
  readonly origin: string;
  readonly model: ModelSpec;
  readonly weights: Float32Array;
  readonly dataset: DatasetManifest;
  readonly window: WindowSettings;
}

export async function loadTrainedModel(store: ObjectStore, ref: string): Promise<TrainedModel> {
  let jobId: string;
  let step: number;
  if ((await store.head(jobLatestKey(ref))) !== null) {
    const pointer = await readJobPointer(store, ref);
    if (pointer?.checkpoint == null) throw new Error(`job ${ref} has no checkpoint yet`);
    jobId = ref;
    step = pointer.checkpoint.step;
  } else {
    const named = await readJsonIfExists<ModelPointer>(store, modelLatestKey(ref));
    if (named === null) throw new Error(`no job or model named '${ref}' in ${store.url} (a job id, a model name, or a directory written by lstm export)`);
    jobId = named.jobId;
    step = named.step;
  }
  const record = await readJobRecord(store, jobId);
  const checkpoint = await readCheckpoint(store, jobId, step);
  return {
    name: record.name,
    origin: `job ${jobId} step ${step}`,
    model: record.model,
    weights: checkpoint.weights,
    dataset: await loadManifest(store, record.datasetId),
    window: record.spec.data.window,
  };
}
