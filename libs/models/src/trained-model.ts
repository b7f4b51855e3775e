// Finding a trained model by reference: a directory written by `lstm export`, a job id (its
// latest checkpoint), a model name (its production version) or NAME@N (version N). A TrainedModel carries what
// inference needs and nothing of the store, so an export directory loads without one.
import { stat } from 'node:fs/promises';
import type { ModelSpec } from '@lstm-runner/lstm-core';
import { featureNormalization, loadManifest, targetNormalization, type DatasetManifest, type Normalization } from '@lstm-runner/data';
import { readCheckpoint, readJobPointer, readJobRecord, readModelVersion, readProductionModel } from '@lstm-runner/job-store';
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

/** Where a reference leads in the store: a job's checkpoint. */
interface ResolvedRef {
  readonly jobId: string;
  readonly step: number;
  readonly prefix: string;
  readonly origin: string;
}

/** NAME@N: version N of a model. */
const VERSION_REF = /^(.+)@(\d+)$/;

/** Its production version; in a store written before versions, the last completed run. */
async function resolveModelName(store: ObjectStore, name: string): Promise<ResolvedRef | null> {
  const production = await readProductionModel(store, name);
  if (production === null) return null;
  const { version, jobId, step, checkpoint } = production;
  return { jobId, step, prefix: checkpoint, origin: `${version === null ? '' : `production v${version}, `}job ${jobId} step ${step}` };
}

async function resolveVersion(store: ObjectStore, name: string, version: number): Promise<ResolvedRef> {
  const found = await readModelVersion(store, name, version);
  if (found === null) throw new Error(`model ${name} has no version ${version} in ${store.url} (lstm models ${name} lists them)`);
  return { jobId: found.jobId, step: found.step, prefix: found.checkpoint, origin: `v${version}, job ${found.jobId} step ${found.step}` };
}

async function resolveRef(store: ObjectStore, ref: string): Promise<ResolvedRef> {
  const versioned = VERSION_REF.exec(ref);
  if (versioned !== null && isValid(validateModelName, versioned[1]!)) return resolveVersion(store, versioned[1]!, Number(versioned[2]));
  if (isValid(validateJobId, ref) && (await store.head(jobLatestKey(ref))) !== null) {
    const pointer = await readJobPointer(store, ref);
    if (pointer?.checkpoint == null) throw new Error(`job ${ref} has no checkpoint yet`);
    return { jobId: ref, ...pointer.checkpoint, origin: `job ${ref} step ${pointer.checkpoint.step}` };
  }
  const named = isValid(validateModelName, ref) ? await resolveModelName(store, ref) : null;
  if (named === null)
    throw new Error(
      `no job or model named '${ref}' in ${store.url} (a job id, a model name, NAME@VERSION, or a directory written by lstm export)`,
    );
  return named;
}

/** The model of one checkpoint of a job; `origin` names it in messages. */
export async function loadCheckpointModel(store: ObjectStore, jobId: string, prefix: string, origin: string): Promise<TrainedModel> {
  const record = await readJobRecord(store, jobId);
  const checkpoint = await readCheckpoint(store, prefix);
  const { lookBack, horizon } = record.spec.data.window;
  return {
    name: record.name,
    origin,
    model: record.model,
    weights: checkpoint.weights,
    encoding: encodingOf(await loadManifest(store, record.datasetId)),
    window: { lookBack, horizon },
  };
}

/**
 * A reference in the store: a job id (its latest checkpoint), a model name (its production
 * version; in a store of an earlier release, models/<name>/latest.json) or NAME@N (version N).
 */
export async function loadTrainedModel(store: ObjectStore, ref: string): Promise<TrainedModel> {
  const { jobId, prefix, origin } = await resolveRef(store, ref);
  return loadCheckpointModel(store, jobId, prefix, origin);
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
