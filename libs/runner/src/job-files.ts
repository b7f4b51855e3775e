// The job's objects in the store: its record (spec.json), its pointer (latest.json, written
// last: the atomic switch), weight versions, checkpoints and metrics. Pure store I/O with
// checksums; the coordinator decides when to call what.
import type { ModelSpec, OptimizerState } from '@lstm-runner/lstm-core';
import { deserializeOptimizerState, serializeOptimizerState } from '@lstm-runner/lstm-core';
import {
  checkpointKeys,
  decodeFloat32Vector,
  encodeFloat32Vector,
  jobLatestKey,
  jobSpecKey,
  metricsChunkKey,
  metricsPrefix,
  weightsKey,
  type JobSpec,
  type NumericsProfile,
} from '@lstm-runner/protocol';
import { getVerified, ObjectNotFoundError, sha256Hex, type ObjectStore } from '@lstm-runner/storage';

export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

/** jobs/<id>/spec.json: what the job is. Written once when the job is submitted. */
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
}

export interface CheckpointRef {
  readonly step: number;
  /** jobs/<id>/checkpoints/<step>/ */
  readonly prefix: string;
}

/** jobs/<id>/latest.json: where the job stands. Written last, after what it points at. */
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
  readonly updatedAt: string;
}

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

export interface MetricRecord {
  readonly step: number;
  readonly epoch: number;
  readonly trainLoss: number;
  /** The validation loss measured after this step, when it was validated. */
  readonly validationLoss: number | null;
  /** The most recent validation loss of the run so far. */
  readonly lastValidationLoss: number | null;
  readonly windowsPerSecond: number;
  readonly stepMs: number;
  /** Sum of the workers' time on the step's training shards; stepMs minus this is coordination when one worker runs. */
  readonly shardComputeMs: number;
  readonly wallTimeMs: number;
  readonly time: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function readJson<T>(store: ObjectStore, key: string): Promise<T> {
  const bytes = await store.get(key);
  try {
    return JSON.parse(utf8.decode(bytes)) as T;
  } catch (error) {
    throw new Error(`${store.url}/${key} is not valid JSON: ${(error as Error).message}`);
  }
}

export async function readJsonIfExists<T>(store: ObjectStore, key: string): Promise<T | null> {
  try {
    return await readJson<T>(store, key);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
}

export async function writeJson(store: ObjectStore, key: string, value: unknown): Promise<void> {
  await store.put(key, `${JSON.stringify(value, null, 2)}\n`);
}

export const readJobRecord = (store: ObjectStore, jobId: string): Promise<JobRecord> => readJson(store, jobSpecKey(jobId));
export const readJobPointer = (store: ObjectStore, jobId: string): Promise<JobPointer | null> => readJsonIfExists(store, jobLatestKey(jobId));

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
  // The manifest goes last: a checkpoint without one is incomplete and never loaded.
  await writeJson(store, keys.manifest, full);
  return { step: manifest.step, prefix: keys.prefix };
}

export async function readCheckpoint(store: ObjectStore, jobId: string, step: number): Promise<Checkpoint> {
  const keys = checkpointKeys(jobId, step);
  const manifest = await readJson<CheckpointManifest>(store, keys.manifest);
  if (manifest.version !== 1) throw new Error(`${keys.manifest}: unknown checkpoint version ${String(manifest.version)}`);
  const weights = decodeFloat32Vector(await getVerified(store, keys.weights, manifest.files.weights));
  const optimizer = deserializeOptimizerState(await getVerified(store, keys.optimizer, manifest.files.optimizer));
  if (weights.length !== manifest.parameterCount) {
    throw new Error(`${keys.weights}: ${weights.length} parameters, the manifest says ${manifest.parameterCount}`);
  }
  return { manifest, weights, optimizer };
}

/** Metric records live in chunks, one per run segment between checkpoints. */
export async function writeMetricsChunk(store: ObjectStore, jobId: string, firstStep: number, records: readonly MetricRecord[]): Promise<void> {
  await store.put(metricsChunkKey(jobId, firstStep), records.map((record) => JSON.stringify(record)).join('\n') + '\n');
}

/** Deletes chunks that start after `step` (records of steps a resume will replay). */
export async function dropMetricsAfter(store: ObjectStore, jobId: string, step: number): Promise<void> {
  for (const key of await store.list(metricsPrefix(jobId))) {
    const first = Number(key.slice(key.lastIndexOf('/') + 1).split('.')[0]);
    if (first > step) await store.delete(key);
  }
}

export async function readMetrics(store: ObjectStore, jobId: string): Promise<MetricRecord[]> {
  const records: MetricRecord[] = [];
  for (const key of await store.list(metricsPrefix(jobId))) {
    const text = new TextDecoder().decode(await store.get(key));
    for (const line of text.split('\n')) if (line.trim() !== '') records.push(JSON.parse(line) as MetricRecord);
  }
  // A chunk may be followed by one that replays its tail after a resume: later chunks win.
  const byStep = new Map<number, MetricRecord>();
  for (const record of records) byStep.set(record.step, record);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** The last record, read from the newest chunk only (cheap for status). */
export async function readLastMetric(store: ObjectStore, jobId: string): Promise<MetricRecord | null> {
  const keys = await store.list(metricsPrefix(jobId));
  for (let i = keys.length - 1; i >= 0; i--) {
    const text = new TextDecoder().decode(await store.get(keys[i]!));
    const lines = text.split('\n').filter((line) => line.trim() !== '');
    const last = lines[lines.length - 1];
    if (last !== undefined) return JSON.parse(last) as MetricRecord;
  }
  return null;
}

export type { OptimizerState };
