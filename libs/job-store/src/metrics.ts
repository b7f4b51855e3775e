// jobs/<id>/metrics/<first step>-t<token>.jsonl: one record per step, in chunks, one per run
// segment between checkpoints, each under the fencing token of the coordinator that wrote it.
// A resume replays steps past its checkpoint: it starts a chunk there under its own (higher)
// token, which replaces the records of earlier owners from that step on.
import { finiteNumber, mapping, nonEmptyString, nonNegativeInteger } from '@lstm-runner/lstm-core';
import { metricsChunkKey, metricsPrefix, parseStoreKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import type * as z from 'zod';
import { parseStoredJson } from './stored-json';

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
  /** The coordinator's own time in the step, not overlapping the workers (absent in records of earlier releases). */
  readonly serialMs?: number;
  /** The optimizer's learning rate for this step (absent in records of earlier releases). */
  readonly learningRate?: number;
  readonly wallTimeMs: number;
  readonly time: string;
}

export const metricRecordSchema = mapping({
  step: nonNegativeInteger(),
  epoch: nonNegativeInteger(),
  trainLoss: finiteNumber(),
  validationLoss: finiteNumber().nullable(),
  lastValidationLoss: finiteNumber().nullable(),
  windowsPerSecond: finiteNumber(),
  stepMs: finiteNumber(),
  shardComputeMs: finiteNumber(),
  serialMs: finiteNumber().exactOptional(),
  learningRate: finiteNumber().exactOptional(),
  wallTimeMs: finiteNumber(),
  time: nonEmptyString(),
}) satisfies z.ZodType<MetricRecord>;

/** Writes the chunk of records from firstStep on, under the writer's fencing token (an empty chunk masks older owners' records from firstStep on). */
export async function writeMetricsChunk(
  store: ObjectStore,
  jobId: string,
  firstStep: number,
  token: number,
  records: readonly MetricRecord[],
): Promise<void> {
  await store.put(metricsChunkKey(jobId, firstStep, token), records.map((record) => `${JSON.stringify(record)}\n`).join(''));
}

interface ChunkKey {
  readonly key: string;
  readonly firstStep: number;
  readonly token: number;
}

/** The job's chunks, in the order they apply: by the writer's fencing token, then by first step. */
async function chunksOf(store: ObjectStore, jobId: string): Promise<ChunkKey[]> {
  const chunks: ChunkKey[] = [];
  for (const key of await store.list(metricsPrefix(jobId))) {
    const info = parseStoreKey(key);
    if (info?.kind === 'metricsChunk') chunks.push({ key, firstStep: info.firstStep, token: info.token });
  }
  return chunks.sort((a, b) => a.token - b.token || a.firstStep - b.firstStep);
}

/** Deletes chunks that start after `step` (records of steps a resume will replay). */
export async function dropMetricsAfter(store: ObjectStore, jobId: string, step: number): Promise<void> {
  for (const chunk of await chunksOf(store, jobId)) if (chunk.firstStep > step) await store.delete(chunk.key);
}

/** The records of one chunk; a bad line is an error naming the chunk and the line. */
async function readChunk(store: ObjectStore, key: string): Promise<MetricRecord[]> {
  const lines = new TextDecoder().decode(await store.get(key)).split('\n');
  const records: MetricRecord[] = [];
  lines.forEach((line, index) => {
    if (line.trim() !== '') records.push(parseStoredJson(line, metricRecordSchema, `${store.url}/${key}:${index + 1}`));
  });
  return records;
}

/**
 * The job's history, one record per step. A chunk written by a later owner (a higher fencing
 * token) replaces every record of earlier owners from its first step on: what a coordinator
 * that stalled past its lease wrote late never shows, and neither do the steps a resume
 * replayed.
 */
export async function readMetrics(store: ObjectStore, jobId: string): Promise<MetricRecord[]> {
  const byStep = new Map<number, MetricRecord>();
  let token = -1;
  for (const chunk of await chunksOf(store, jobId)) {
    if (chunk.token !== token) {
      for (const step of [...byStep.keys()]) if (step > chunk.firstStep) byStep.delete(step);
      token = chunk.token;
    }
    for (const record of await readChunk(store, chunk.key)) byStep.set(record.step, record);
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** The last record of the latest owner's newest chunk (cheap for status). */
export async function readLastMetric(store: ObjectStore, jobId: string): Promise<MetricRecord | null> {
  const chunks = await chunksOf(store, jobId);
  for (let i = chunks.length - 1; i >= 0; i--) {
    const records = await readChunk(store, chunks[i]!.key);
    const last = records[records.length - 1];
    if (last !== undefined) return last;
  }
  return null;
}
