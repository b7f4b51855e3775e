// jobs/<id>/metrics/<first step>.jsonl: one record per step, in chunks, one per run segment
// between checkpoints. A resume replays steps past its checkpoint: their chunks are dropped
// first, and where chunks overlap the later one wins.
import { finiteNumber, mapping, nonEmptyString, nonNegativeInteger } from '@lstm-runner/lstm-core';
import { metricsChunkKey, metricsPrefix } from '@lstm-runner/protocol';
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
  wallTimeMs: finiteNumber(),
  time: nonEmptyString(),
}) satisfies z.ZodType<MetricRecord>;

export async function writeMetricsChunk(
  store: ObjectStore,
  jobId: string,
  firstStep: number,
  records: readonly MetricRecord[],
): Promise<void> {
  await store.put(metricsChunkKey(jobId, firstStep), records.map((record) => JSON.stringify(record)).join('\n') + '\n');
}

/** Deletes chunks that start after `step` (records of steps a resume will replay). */
export async function dropMetricsAfter(store: ObjectStore, jobId: string, step: number): Promise<void> {
  for (const key of await store.list(metricsPrefix(jobId))) {
    const first = Number(key.slice(key.lastIndexOf('/') + 1).split('.')[0]);
    if (first > step) await store.delete(key);
  }
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

export async function readMetrics(store: ObjectStore, jobId: string): Promise<MetricRecord[]> {
  const byStep = new Map<number, MetricRecord>();
  for (const key of await store.list(metricsPrefix(jobId))) {
    for (const record of await readChunk(store, key)) byStep.set(record.step, record);
  }
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** The last record, read from the newest chunk only (cheap for status). */
export async function readLastMetric(store: ObjectStore, jobId: string): Promise<MetricRecord | null> {
  const keys = await store.list(metricsPrefix(jobId));
  for (let i = keys.length - 1; i >= 0; i--) {
    const records = await readChunk(store, keys[i]!);
    const last = records[records.length - 1];
    if (last !== undefined) return last;
  }
  return null;
}
