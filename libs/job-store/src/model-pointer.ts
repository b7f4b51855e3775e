// models/<name>/latest.json (the last completed run's final checkpoint) and best.json (the
// lowest validation loss): what `predict NAME`, `generate`, `export` and schedule firings read.
import { finiteNumber, mapping, nonEmptyString, nonNegativeInteger } from '@lstm-runner/lstm-core';
import { modelBestKey, modelLatestKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import type * as z from 'zod';
import { parseStoredJson, readStoredJsonIfExists } from './stored-json';

export interface ModelPointer {
  readonly name: string;
  readonly jobId: string;
  /** The checkpoint's prefix, jobs/<id>/checkpoints/<step>/ */
  readonly checkpoint: string;
  readonly step: number;
  readonly datasetId: string;
  readonly validationLoss: number | null;
  /** The fencing token of the coordinator that published it (absent in pointers of earlier releases). */
  readonly fencingToken?: number;
  readonly updatedAt: string;
}

export const modelPointerSchema = mapping({
  name: nonEmptyString(),
  jobId: nonEmptyString(),
  checkpoint: nonEmptyString(),
  step: nonNegativeInteger(),
  datasetId: nonEmptyString(),
  validationLoss: finiteNumber().nullable(),
  fencingToken: nonNegativeInteger().exactOptional(),
  updatedAt: nonEmptyString(),
}) satisfies z.ZodType<ModelPointer>;

export type ModelPointerKind = 'latest' | 'best';

const keyOf = (name: string, kind: ModelPointerKind): string => (kind === 'latest' ? modelLatestKey(name) : modelBestKey(name));

export const readModelPointer = (store: ObjectStore, name: string, kind: ModelPointerKind): Promise<ModelPointer | null> =>
  readStoredJsonIfExists(store, keyOf(name, kind), modelPointerSchema);

/**
 * Publishes a model pointer by compare-and-set, when `better(current)` says so and no
 * stale coordinator of the same job could be the writer: a pointer of the same job written
 * with a higher fencing token than pointer.fencingToken is never replaced. True when
 * published.
 */
export async function publishModelPointer(
  store: ObjectStore,
  kind: ModelPointerKind,
  pointer: ModelPointer,
  better: (current: ModelPointer | null) => boolean = () => true,
): Promise<boolean> {
  const key = keyOf(pointer.name, kind);
  for (;;) {
    const stored = await store.getVersioned(key);
    const current =
      stored === null ? null : parseStoredJson(new TextDecoder().decode(stored.body), modelPointerSchema, `${store.url}/${key}`);
    const newerOwner = current !== null && current.jobId === pointer.jobId && (current.fencingToken ?? 0) > (pointer.fencingToken ?? 0);
    if (newerOwner || !better(current)) return false;
    if (await store.putIfVersion(key, `${JSON.stringify(pointer, null, 2)}\n`, stored?.version ?? null)) return true;
  }
}
