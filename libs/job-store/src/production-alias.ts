// models/<name>/production.json: the alias every reader of a model name follows (predict,
// generate, export, warm starts of schedule firings). It moves only by compare-and-set: a
// coordinator moves it when a new version passes the gate and production is still the
// version it was compared with; `lstm promote` and `lstm rollback` move it by hand. It keeps
// the versions it pointed at before, so a rollback goes back to the previous one.
import { mapping, nonEmptyString, nonNegativeInteger, positiveInteger } from '@lstm-runner/lstm-core';
import { modelProductionKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import * as z from 'zod';
import { parseStoredJson, readStoredJsonIfExists } from './stored-json';

export interface ProductionAlias {
  readonly name: string;
  readonly version: number;
  readonly jobId: string;
  /** The fencing token of the coordinator that moved it here (0 by hand). */
  readonly fencingToken: number;
  /** The versions production was before, oldest first (a rollback pops the last). */
  readonly history: readonly number[];
  /** Why it points here: the gate's reason, `promoted by hand`, `rolled back from 3`. */
  readonly reason: string;
  readonly updatedAt: string;
}

export const productionAliasSchema = mapping({
  name: nonEmptyString(),
  version: positiveInteger(),
  jobId: nonEmptyString(),
  fencingToken: nonNegativeInteger(),
  history: z.array(positiveInteger()),
  reason: z.string(),
  updatedAt: nonEmptyString(),
}) satisfies z.ZodType<ProductionAlias>;

export const readProductionAlias = (store: ObjectStore, name: string): Promise<ProductionAlias | null> =>
  readStoredJsonIfExists(store, modelProductionKey(name), productionAliasSchema);

/** What a move of the alias does with the current one: the next alias, or null to leave it. */
export type AliasUpdate = (current: ProductionAlias | null) => ProductionAlias | null;

/**
 * Moves the alias by compare-and-set: writes `update(current)` only if nobody wrote the alias
 * since it was read; otherwise reads again. Returns the alias as it stands afterwards, and
 * whether this call moved it.
 */
export async function moveProductionAlias(
  store: ObjectStore,
  name: string,
  update: AliasUpdate,
): Promise<{ readonly alias: ProductionAlias | null; readonly moved: boolean }> {
  const key = modelProductionKey(name);
  for (;;) {
    const stored = await store.getVersioned(key);
    const current =
      stored === null ? null : parseStoredJson(new TextDecoder().decode(stored.body), productionAliasSchema, `${store.url}/${key}`);
    const next = update(current);
    if (next === null) return { alias: current, moved: false };
    if (await store.putIfVersion(key, `${JSON.stringify(next, null, 2)}\n`, stored?.version ?? null)) return { alias: next, moved: true };
  }
}

/** The alias at `target`, with the current version pushed on its history. */
export function aliasAt(
  current: ProductionAlias | null,
  target: { readonly name: string; readonly version: number; readonly jobId: string },
  fencingToken: number,
  reason: string,
): ProductionAlias {
  const history = current === null || current.version === target.version ? (current?.history ?? []) : [...current.history, current.version];
  return {
    name: target.name,
    version: target.version,
    jobId: target.jobId,
    fencingToken,
    history,
    reason,
    updatedAt: new Date().toISOString(),
  };
}
