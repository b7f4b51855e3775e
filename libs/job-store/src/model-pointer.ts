// models/<name>/latest.json (the last completed run's final checkpoint) and best.json (the
// lowest validation loss): what `predict NAME`, `generate`, `export` and schedule firings read.
import { finiteNumber, mapping, nonEmptyString, nonNegativeInteger } from '@lstm-runner/lstm-core';
import { modelBestKey, modelLatestKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import type * as z from 'zod';
import { readStoredJsonIfExists, writeStoredJson } from './stored-json';

export interface ModelPointer {
  readonly name: string;
  readonly jobId: string;
  /** The checkpoint's prefix, jobs/<id>/checkpoints/<step>/ */
  readonly checkpoint: string;
  readonly step: number;
  readonly datasetId: string;
  readonly validationLoss: number | null;
  readonly updatedAt: string;
}

export const modelPointerSchema = mapping({
  name: nonEmptyString(),
  jobId: nonEmptyString(),
  checkpoint: nonEmptyString(),
  step: nonNegativeInteger(),
  datasetId: nonEmptyString(),
  validationLoss: finiteNumber().nullable(),
  updatedAt: nonEmptyString(),
}) satisfies z.ZodType<ModelPointer>;

export type ModelPointerKind = 'latest' | 'best';

const keyOf = (name: string, kind: ModelPointerKind): string => (kind === 'latest' ? modelLatestKey(name) : modelBestKey(name));

export const readModelPointer = (store: ObjectStore, name: string, kind: ModelPointerKind): Promise<ModelPointer | null> =>
  readStoredJsonIfExists(store, keyOf(name, kind), modelPointerSchema);

export const writeModelPointer = (store: ObjectStore, kind: ModelPointerKind, pointer: ModelPointer): Promise<void> =>
  writeStoredJson(store, keyOf(pointer.name, kind), pointer);
