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
}

/** Everything exact resume needs besides weights and optimizer bytes. */
export interface CheckpointManifest {
  readonly version: 1;
  readonly jobId: string;
  readonly step: number;
  readonly epoch: number;
  readonly batchInEpoch: number;
  readonly shuffleVersion: number;
  readonly datasetId: string;
  readonly profile: NumericsProfile;
  readonly validation: ValidationState;
  readonly metricsCount: number;
  readonly generation: number;
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
  datasetId: nonEmptyString(),
  profile: numericsProfileSchema,
  validation: mapping({
    lastLoss: finiteNumber().nullable(),
    bestLoss: finiteNumber().nullable(),
    bestStep: nonNegativeInteger().nullable(),
  }),
  metricsCount: nonNegativeInteger(),
  generation: nonNegativeInteger(),
  parameterCount: nonNegativeInteger(),
  files: mapping({ weights: sha256(), optimizer: sha256() }),
  createdAt: nonEmptyString(),
}) satisfies z.ZodType<CheckpointManifest>;

/** Writes weights version `step` and returns the sha256 of its bytes. */
export async function writeWeights(store: ObjectStore, jobId: string, step: number, weights: Float32Array): Promise<string> {
  const bytes = encodeFloat32Vector(weights);
  await store.put(weightsKey(jobId, step), bytes);
  return sha256Hex(bytes);
}

export async function writeCheckpoint(
  store: ObjectStore,
  manifest: Omit<CheckpointManifest, 'files' | 'version' | 'parameterCount' | 'createdAt'>,
  weights: Float32Array,
  optimizer: OptimizerState,
): Promise<CheckpointRef> {
  const keys = checkpointKeys(manifest.jobId, manifest.step);
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
  await writeStoredJson(store, keys.manifest, full);
  return { step: manifest.step, prefix: keys.prefix };
}

export async function readCheckpoint(store: ObjectStore, jobId: string, step: number): Promise<Checkpoint> {
  const keys = checkpointKeys(jobId, step);
  const manifest = await readStoredJson(store, keys.manifest, checkpointManifestSchema);
  const weights = decodeFloat32Vector(await getVerified(store, keys.weights, manifest.files.weights));
  const optimizer = deserializeOptimizerState(await getVerified(store, keys.optimizer, manifest.files.optimizer));
  if (weights.length !== manifest.parameterCount) {
    throw new StoredObjectError(
      `${store.url}/${keys.weights}`,
      `${weights.length} parameters, the manifest says ${manifest.parameterCount}`,
    );
  }
  return { manifest, weights, optimizer };
}

const CHECKPOINT_PREFIX = /^jobs\/([^/]+)\/checkpoints\/(\d+)\/?$/;

/** The checkpoint a prefix (`jobs/<id>/checkpoints/<step>/`, as pointers hold it) names. */
export async function readCheckpointAt(store: ObjectStore, prefix: string): Promise<Checkpoint> {
  const match = CHECKPOINT_PREFIX.exec(prefix);
  if (match === null) throw new StoredObjectError(`${store.url}/${prefix}`, 'not a checkpoint prefix (jobs/<id>/checkpoints/<step>/)');
  return readCheckpoint(store, match[1]!, Number(match[2]));
}
