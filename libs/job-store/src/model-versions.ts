// models/<name>/versions/<n>/version.json: one immutable version per completed training run
// of a model name: its final checkpoint, spec, dataset (whose manifest holds the encoding),
// lineage and evaluation. n is allocated by a create-only compare-and-set (putIfVersion with
// no expected version), so two coordinators never take the same number: the loser of a race
// for n tries n + 1.
import { finiteNumber, mapping, nonEmptyString, nonNegativeInteger, oneOf, positiveInteger } from '@lstm-runner/lstm-core';
import {
  jobSpecSchema,
  modelVersionKey,
  modelVersionsPrefix,
  parseStoreKey,
  type JobSpec,
  type PromotionMetric,
} from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import * as z from 'zod';
import { readStoredJsonIfExists } from './stored-json';

/** The figures the promotion gate compared, on one evaluation set, in units both models share. */
export interface ModelEvaluation {
  readonly metric: PromotionMetric;
  /** What was evaluated on: `holdout <file>` or `validation windows of dataset <id>`. */
  readonly data: string;
  /** The new version's figure; null when it could not be evaluated. */
  readonly value: number | null;
  /** The production version it was compared with (null: there was none). */
  readonly baselineVersion: number | null;
  /** Production's figure on the same data; null when there was none or it could not be evaluated. */
  readonly baselineValue: number | null;
}

/** Where a version came from. */
export interface VersionLineage {
  /** The version whose checkpoint its weights started from (warm start), if any. */
  readonly warmStartVersion: number | null;
  /** That checkpoint's prefix. */
  readonly warmStartFrom: string | null;
  /** The schedule whose firing trained it, if any. */
  readonly scheduleId: string | null;
}

export interface ModelVersion {
  readonly version: number;
  readonly name: string;
  readonly jobId: string;
  readonly createdAt: string;
  /** The final checkpoint's prefix, jobs/<id>/checkpoints/<step>/ */
  readonly checkpoint: string;
  readonly step: number;
  readonly spec: JobSpec;
  /** The dataset it was trained on; its manifest holds the encoding (vocabulary or normalization). */
  readonly datasetId: string;
  readonly lineage: VersionLineage;
  readonly evaluation: ModelEvaluation | null;
  /** Whether it passed the promotion gate when it was created (production may have moved since: see the alias). */
  readonly promoted: boolean;
  /** Why it was or was not promoted, with both figures. */
  readonly reason: string;
  /** The fencing token of the coordinator that wrote it. */
  readonly fencingToken: number;
}

/** A version before its number is allocated. */
export type VersionDraft = Omit<ModelVersion, 'version'>;

const evaluationSchema = mapping({
  metric: oneOf(['mae', 'rmse', 'loss']),
  data: nonEmptyString(),
  value: finiteNumber().nullable(),
  baselineVersion: positiveInteger().nullable(),
  baselineValue: finiteNumber().nullable(),
}) satisfies z.ZodType<ModelEvaluation>;

export const modelVersionSchema = mapping({
  version: positiveInteger(),
  name: nonEmptyString(),
  jobId: nonEmptyString(),
  createdAt: nonEmptyString(),
  checkpoint: nonEmptyString(),
  step: nonNegativeInteger(),
  spec: jobSpecSchema,
  datasetId: nonEmptyString(),
  lineage: mapping({
    warmStartVersion: positiveInteger().nullable(),
    warmStartFrom: nonEmptyString().nullable(),
    scheduleId: nonEmptyString().nullable(),
  }),
  evaluation: evaluationSchema.nullable(),
  promoted: z.boolean(),
  reason: z.string(),
  fencingToken: nonNegativeInteger(),
}) satisfies z.ZodType<ModelVersion>;

export const readModelVersion = (store: ObjectStore, name: string, version: number): Promise<ModelVersion | null> =>
  readStoredJsonIfExists(store, modelVersionKey(name, version), modelVersionSchema);

/** The version numbers of a model, ascending. */
export async function listVersionNumbers(store: ObjectStore, name: string): Promise<number[]> {
  const numbers: number[] = [];
  for (const key of await store.list(modelVersionsPrefix(name))) {
    const info = parseStoreKey(key);
    if (info?.kind === 'modelVersion' && info.name === name) numbers.push(info.version);
  }
  return numbers.sort((a, b) => a - b);
}

/** Every version of a model, ascending (a version deleted while listing is skipped). */
export async function listModelVersions(store: ObjectStore, name: string): Promise<ModelVersion[]> {
  const versions: ModelVersion[] = [];
  for (const n of await listVersionNumbers(store, name)) {
    const version = await readModelVersion(store, name, n);
    if (version !== null) versions.push(version);
  }
  return versions;
}

/**
 * Writes the draft as the model's next version: n = the highest number listed + 1, taken by a
 * create-only compare-and-set; when another writer took n first, tries n + 1. Returns the
 * version as written.
 */
export async function createModelVersion(store: ObjectStore, draft: VersionDraft): Promise<ModelVersion> {
  const numbers = await listVersionNumbers(store, draft.name);
  for (let n = (numbers[numbers.length - 1] ?? 0) + 1; ; n++) {
    const version: ModelVersion = { version: n, ...draft };
    if (await store.putIfVersion(modelVersionKey(draft.name, n), `${JSON.stringify(version, null, 2)}\n`, null)) return version;
  }
}
