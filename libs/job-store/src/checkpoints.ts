// Weight versions and checkpoints of a job: jobs/<id>/weights/<step>.bin and
// jobs/<id>/checkpoints/<step>/{weights.bin, optimizer.bin, manifest.json}. The manifest goes
// last and carries a sha256 of each file: a checkpoint without one is incomplete and never
// loaded, and a checksum mismatch is an error.
import {
  deserializeOptimizerState,
  finiteNumber,
  mapping,
  matching,
  nonEmptyString,
  nonNegativeInteger,
  serializeOptimizerState,
  type OptimizerState,
} from '@lstm-runner/lstm-core';
import {
  checkpointKeys,
  decodeFloat32Vector,
  encodeFloat32Vector,
  numericsProfileSchema,
  weightsKey,
  type NumericsProfile,
} from '@lstm-runner/protocol';
import { getVerified, sha256Hex, type ObjectStore } from '@lstm-runner/storage';
import * as z from 'zod';
import { StoredObjectError } from './errors/stored-object-error';
import type { CheckpointRef } from './job-pointer';
import { readStoredJson, writeStoredJson } from './stored-json';

export interface ValidationState {
  readonly lastLoss: number | null;
  readonly bestLoss: number | null;
  readonly bestStep: number | null;
  /** The prefix of the checkpoint of bestStep (absent in checkpoints of earlier releases). */
  readonly bestCheckpoint?: string;
  /** Early stopping's count, once validated (absent unless the spec asks for early stopping). */
  readonly earlyStopping?: EarlyStoppingCount;
}

/** Where a run with training.earlyStopping stands: what to beat, and for how long it has not been. */
export interface EarlyStoppingCount {
  /** The validation loss of the last improvement by at least minDelta (Keras's `best`). */
  readonly referenceLoss: number;
  /** Validations since then (Keras's `wait`). */
  readonly staleValidations: number;
}

/** Everything exact resume needs besides weights and optimizer bytes. */
export interface CheckpointManifest {
  readonly version: 1;
  readonly jobId: string;
  readonly step: number;
  readonly epoch: number;
  readonly batchInEpoch: number;
  readonly shuffleVersion: number;
  /** How the steps summed their gradients (absent in checkpoints of earlier releases: 1). */
  readonly reductionVersion?: number;
  readonly datasetId: string;
  readonly profile: NumericsProfile;
  readonly validation: ValidationState;
  readonly metricsCount: number;
  readonly generation: number;
  /** The fencing token of the coordinator that wrote it (absent in checkpoints of earlier releases). */
  readonly fencingToken?: number;
  readonly parameterCount: number;
  readonly files: { readonly weights: string; readonly optimizer: string };
  readonly createdAt: string;
}

export interface Checkpoint {
  readonly manifest: CheckpointManifest;
  readonly weights: Float32Array;
  readonly optimizer: OptimizerState;
}

const sha256 = (): z.ZodString => matching(/^[0-9a-f]{64}$/, 'a sha256 in hex');

export const checkpointManifestSchema = mapping({
  version: z.literal(1),
  jobId: nonEmptyString(),
  step: nonNegativeInteger(),
  epoch: nonNegativeInteger(),
  batchInEpoch: nonNegativeInteger(),
  shuffleVersion: nonNegativeInteger(),
  reductionVersion: nonNegativeInteger().exactOptional(),
  datasetId: nonEmptyString(),
  profile: numericsProfileSchema,
  validation: mapping({
    lastLoss: finiteNumber().nullable(),
    bestLoss: finiteNumber().nullable(),
    bestStep: nonNegativeInteger().nullable(),
    bestCheckpoint: nonEmptyString().exactOptional(),
    earlyStopping: mapping({ referenceLoss: finiteNumber(), staleValidations: nonNegativeInteger() }).exactOptional(),
  }),
  metricsCount: nonNegativeInteger(),
  generation: nonNegativeInteger(),
  fencingToken: nonNegativeInteger().exactOptional(),
  parameterCount: nonNegativeInteger(),
  files: mapping({ weights: sha256(), optimizer: sha256() }),
  createdAt: nonEmptyString(),
}) satisfies z.ZodType<CheckpointManifest>;

/** Weights version `step` as written by the owner with `token`: where, and the sha256 of the bytes. */
export interface WrittenWeights {
  readonly key: string;
  readonly sha256: string;
}

export async function writeWeights(
  store: ObjectStore,
  jobId: string,
  step: number,
  token: number,
  weights: Float32Array,
): Promise<WrittenWeights> {
  const bytes = encodeFloat32Vector(weights);
  const key = weightsKey(jobId, step, token);
  await store.put(key, bytes);
  return { key, sha256: sha256Hex(bytes) };
}

/** Writes the checkpoint under the writer's fencing token (manifest.fencingToken, 0 when absent). */
export async function writeCheckpoint(
  store: ObjectStore,
  manifest: Omit<CheckpointManifest, 'files' | 'version' | 'parameterCount' | 'createdAt'>,
  weights: Float32Array,
  optimizer: OptimizerState,
): Promise<CheckpointRef> {
  const keys = checkpointKeys(manifest.jobId, manifest.step, manifest.fencingToken ?? 0);
  const weightBytes = encodeFloat32Vector(weights);
  const optimizerBytes = serializeOptimizerState(optimizer);
  await store.put(keys.weights, weightBytes);
  await store.put(keys.optimizer, optimizerBytes);
  const full: CheckpointManifest = {
    version: 1,
    ...manifest,
    parameterCount: weights.length,
    files: { weights: sha256Hex(weightBytes), optimizer: sha256Hex(optimizerBytes) },
    createdAt: new Date().toISOString(),
  };
  // The manifest goes last: a checkpoint without one is incomplete and never loaded.
  await writeStoredJson(store, keys.manifest, full);
  return { step: manifest.step, prefix: keys.prefix };
}

const CHECKPOINT_PREFIX = /^jobs\/[^/]+\/checkpoints\/\d+(?:-t\d+)?\/$/;

/** The checkpoint a prefix (`jobs/<id>/checkpoints/<step>[-t<token>]/`, as pointers hold it) names. */
export async function readCheckpoint(store: ObjectStore, prefix: string): Promise<Checkpoint> {
  if (!CHECKPOINT_PREFIX.test(prefix)) {
    throw new StoredObjectError(`${store.url}/${prefix}`, 'not a checkpoint prefix (jobs/<id>/checkpoints/<step>[-t<token>]/)');
  }
  const manifestKey = `${prefix}manifest.json`;
  const weightsFile = `${prefix}weights.bin`;
  const manifest = await readStoredJson(store, manifestKey, checkpointManifestSchema);
  const weights = decodeFloat32Vector(await getVerified(store, weightsFile, manifest.files.weights));
  const optimizer = deserializeOptimizerState(await getVerified(store, `${prefix}optimizer.bin`, manifest.files.optimizer));
  if (weights.length !== manifest.parameterCount) {
    throw new StoredObjectError(
      `${store.url}/${weightsFile}`,
      `${weights.length} parameters, the manifest says ${manifest.parameterCount}`,
    );
  }
  return { manifest, weights, optimizer };
}
