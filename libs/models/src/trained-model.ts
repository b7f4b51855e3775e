// Finding a trained model by reference: a directory written by `lstm export`, a job id (its
// latest checkpoint) or a model name (models/<name>/latest.json). A TrainedModel carries what
// inference needs and nothing of the store, so an export directory loads without one.
import { stat } from 'node:fs/promises';
import type { ModelSpec } from '@lstm-runner/lstm-core';
import { featureNormalization, loadManifest, targetNormalization, type DatasetManifest, type Normalization } from '@lstm-runner/data';
import { readCheckpoint, readJobPointer, readJobRecord, readModelPointer } from '@lstm-runner/job-store';
import { jobLatestKey, validateJobId, validateModelName } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { loadExportedModel } from './exported-model-reader';

/** How text or table rows become model input and outputs become results. */
export type ModelEncoding =
  | {
      readonly kind: 'text';
      /** Character k has id k. */
      readonly vocabulary: readonly string[];
      readonly lowercase: boolean;
      /** The id of every character outside the vocabulary (vocabulary.length). */
      readonly unknownId: number;
    }
  | {
      readonly kind: 'csv';
      /** The model's input columns, in order. */
      readonly features: readonly string[];
      /** The model's output columns, in order. */
      readonly targets: readonly string[];
      readonly normalization: { readonly features: Normalization; readonly targets: Normalization };
    };

export interface TrainedModel {
  readonly name: string;
  /** Where it came from, for messages: `job <id> step <n>` or the export directory. */
  readonly origin: string;
  readonly model: ModelSpec;
  readonly weights: Float32Array;
  readonly encoding: ModelEncoding;
  /** Input timesteps per window, and how many rows past a window its target lies. */
  readonly window: { readonly lookBack: number; readonly horizon: number };
}

function encodingOf(manifest: DatasetManifest): ModelEncoding {
  if (manifest.kind === 'text') {
    const { vocabulary, lowercase, unknownId } = manifest.text;
    return { kind: 'text', vocabulary, lowercase, unknownId };
  }
  const { csv } = manifest;
  return {
    kind: 'csv',
    features: csv.features,
    targets: csv.targets,
    normalization: { features: featureNormalization(csv), targets: targetNormalization(csv) },
  };
}

/** A job id or model name in the store. */
export async function loadTrainedModel(store: ObjectStore, ref: string): Promise<TrainedModel> {
  let jobId: string;
  let step: number;
  let prefix: string;
  if (isValid(validateJobId, ref) && (await store.head(jobLatestKey(ref))) !== null) {
    const pointer = await readJobPointer(store, ref);
    if (pointer?.checkpoint == null) throw new Error(`job ${ref} has no checkpoint yet`);
    jobId = ref;
    ({ step, prefix } = pointer.checkpoint);
  } else {
    const named = isValid(validateModelName, ref) ? await readModelPointer(store, ref, 'latest') : null;
    if (named === null)
      throw new Error(`no job or model named '${ref}' in ${store.url} (a job id, a model name, or a directory written by lstm export)`);
    jobId = named.jobId;
    step = named.step;
    prefix = named.checkpoint;
  }
  const record = await readJobRecord(store, jobId);
  const checkpoint = await readCheckpoint(store, prefix);
  const { lookBack, horizon } = record.spec.data.window;
  return {
    name: record.name,
    origin: `job ${jobId} step ${step}`,
    model: record.model,
    weights: checkpoint.weights,
    encoding: encodingOf(await loadManifest(store, record.datasetId)),
    window: { lookBack, horizon },
  };
}

/**
 * `ref` as an export directory when it is a directory, otherwise as a job id or model name
 * in the store that `openStore` opens (only then, and closed afterwards).
 */
export async function loadModelByRef(ref: string, openStore: () => ObjectStore): Promise<TrainedModel> {
  const entry = await stat(ref).catch(() => null);
  if (entry?.isDirectory() === true) return loadExportedModel(ref);
  // Job ids and model names hold no path separator or leading dot: such a ref meant a path.
  if (/[/\\]|^\./.test(ref)) {
    throw new Error(
      entry === null
        ? `no directory ${ref} (a job id, a model name, or a directory written by lstm export)`
        : `${ref} is a file; pass the directory lstm export wrote`,
    );
  }
  const store = openStore();
  try {
    return await loadTrainedModel(store, ref);
  } finally {
    await store.close();
  }
}

function isValid(validate: (ref: string) => string, ref: string): boolean {
  try {
    validate(ref);
    return true;
  } catch {
    return false;
  }
}
