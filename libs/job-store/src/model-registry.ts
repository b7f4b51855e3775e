// The model registry: what `lstm models`, `promote`, `rollback` and `models prune` do, and
// how a coordinator publishes a completed run as a version. Versions are immutable
// (model-versions.ts); the production alias moves by compare-and-set (production-alias.ts).
import { modelVersionKey, MODELS_PREFIX, parseStoreKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { ModelRegistryError } from './errors/model-registry-error';
import { readModelPointer } from './model-pointer';
import { createModelVersion, listModelVersions, readModelVersion, type ModelVersion, type VersionDraft } from './model-versions';
import { aliasAt, moveProductionAlias, readProductionAlias, type ProductionAlias } from './production-alias';

/** One version as `lstm models NAME --json` prints it. */
export interface VersionSummary {
  readonly version: number;
  readonly jobId: string;
  readonly createdAt: string;
  readonly metric: string | null;
  readonly value: number | null;
  readonly baselineValue: number | null;
  readonly promoted: boolean;
  readonly reason: string;
}

/** `lstm models NAME --json`. */
export interface ModelSummary {
  readonly name: string;
  /** The production version; null when there is none (or only a pointer of an earlier release). */
  readonly production: number | null;
  readonly versions: readonly VersionSummary[];
}

export function summarizeVersion(version: ModelVersion): VersionSummary {
  const { evaluation } = version;
  return {
    version: version.version,
    jobId: version.jobId,
    createdAt: version.createdAt,
    metric: evaluation?.metric ?? null,
    value: evaluation?.value ?? null,
    baselineValue: evaluation?.baselineValue ?? null,
    promoted: version.promoted,
    reason: version.reason,
  };
}

export async function modelSummary(store: ObjectStore, name: string): Promise<ModelSummary> {
  const versions = await listModelVersions(store, name);
  const alias = await readProductionAlias(store, name);
  if (versions.length === 0 && alias === null && (await readModelPointer(store, name, 'latest')) === null) {
    throw new ModelRegistryError(`no model named '${name}' in ${store.url}`);
  }
  return { name, production: alias?.version ?? null, versions: versions.map(summarizeVersion) };
}

/** The model names of the store: those with versions, a production alias or a pointer of an earlier release. */
export async function listModelNames(store: ObjectStore): Promise<string[]> {
  const names = new Set<string>();
  for (const key of await store.list(MODELS_PREFIX)) {
    const info = parseStoreKey(key);
    if (info !== null && 'name' in info) names.add(info.name);
  }
  return [...names].sort();
}

/** What reads a model by name follows: its production version, or in a store of an earlier release, models/<name>/latest.json. */
export interface ProductionModel {
  /** null: a pointer of an earlier release (no versions). */
  readonly version: number | null;
  readonly jobId: string;
  readonly checkpoint: string;
  readonly step: number;
  readonly datasetId: string;
}

export async function readProductionModel(store: ObjectStore, name: string): Promise<ProductionModel | null> {
  const alias = await readProductionAlias(store, name);
  if (alias !== null) {
    const { version, jobId, checkpoint, step, datasetId } = await existingVersion(store, name, alias.version);
    return { version, jobId, checkpoint, step, datasetId };
  }
  const legacy = await readModelPointer(store, name, 'latest');
  if (legacy === null) return null;
  const { jobId, checkpoint, step, datasetId } = legacy;
  return { version: null, jobId, checkpoint, step, datasetId };
}

async function existingVersion(store: ObjectStore, name: string, version: number): Promise<ModelVersion> {
  const found = await readModelVersion(store, name, version);
  if (found === null) throw new ModelRegistryError(`model ${name} has no version ${version} in ${store.url}`);
  return found;
}

/** `lstm promote NAME@N`: production moves to version N, whatever its gate said. */
export async function promoteVersion(store: ObjectStore, name: string, version: number): Promise<ProductionAlias> {
  const target = await existingVersion(store, name, version);
  const { alias } = await moveProductionAlias(store, name, (current) => aliasAt(current, target, 0, 'promoted by hand'));
  return alias!;
}

/** `lstm rollback NAME`: production goes back to the version it was before (skipping versions pruned since). */
export async function rollbackProduction(store: ObjectStore, name: string): Promise<ProductionAlias> {
  const current = await readProductionAlias(store, name);
  if (current === null) throw new ModelRegistryError(`model ${name} has no production version in ${store.url}`);
  const history = [...current.history];
  for (let previous = history.pop(); previous !== undefined; previous = history.pop()) {
    const target = await readModelVersion(store, name, previous);
    if (target === null || target.version === current.version) continue;
    const { alias, moved } = await moveProductionAlias(store, name, (now) =>
      now?.version !== current.version || now.updatedAt !== current.updatedAt
        ? null
        : { ...aliasAt(null, target, 0, `rolled back from v${current.version}`), history },
    );
    if (!moved) throw new ModelRegistryError(`production of ${name} moved meanwhile (now v${alias?.version ?? '?'}); nothing was changed`);
    return alias!;
  }
  throw new ModelRegistryError(`model ${name}: production v${current.version} has no earlier production version to roll back to`);
}

/**
 * A coordinator's publishing of a completed run: its version (only once per job: a new owner
 * finishing an interrupted publishing finds it), then, when it passed the gate, the alias,
 * if production is still the version it was compared with. `fence` runs right before each
 * write and throws when the writer no longer owns the job (its fencing token is stale).
 * Returns the version and whether production points at it now.
 */
export async function publishVersion(
  store: ObjectStore,
  draft: VersionDraft,
  fence: () => Promise<void> = async () => undefined,
): Promise<{ version: ModelVersion; production: boolean }> {
  const existing = (await listModelVersions(store, draft.name)).find((v) => v.jobId === draft.jobId);
  if (existing === undefined) await fence();
  const version = existing ?? (await createModelVersion(store, draft));
  if (!version.promoted) return { version, production: (await readProductionAlias(store, draft.name))?.version === version.version };
  const baseline = version.evaluation?.baselineVersion ?? null;
  await fence();
  const { alias } = await moveProductionAlias(store, draft.name, (current) => {
    if (current?.version === version.version) return null;
    // Gated against `baseline`: it replaces that one, never a version promoted meanwhile.
    if (version.evaluation !== null && (current?.version ?? null) !== baseline) return null;
    return aliasAt(current, version, version.fencingToken, version.reason);
  });
  return { version, production: alias?.version === version.version };
}

export interface PruneResult {
  readonly deletedVersions: readonly number[];
  readonly deletedCheckpoints: readonly string[];
}

/**
 * Keeps the last `keep` versions and the production one; deletes the other versions and the
 * checkpoints that no kept version (nor a pointer of an earlier release) uses.
 */
export async function pruneVersions(store: ObjectStore, name: string, keep: number): Promise<PruneResult> {
  if (!Number.isInteger(keep) || keep < 1) throw new ModelRegistryError(`--keep must be a positive integer, got ${keep}`);
  const versions = await listModelVersions(store, name);
  if (versions.length === 0) throw new ModelRegistryError(`model ${name} has no versions in ${store.url}`);
  const production = (await readProductionAlias(store, name))?.version ?? null;
  const kept = versions.filter((v, i) => i >= versions.length - keep || v.version === production);
  const used = new Set(kept.map((v) => v.checkpoint));
  for (const kind of ['latest', 'best'] as const) {
    const pointer = await readModelPointer(store, name, kind);
    if (pointer !== null) used.add(pointer.checkpoint);
  }
  const deletedVersions: number[] = [];
  const deletedCheckpoints: string[] = [];
  for (const version of versions.filter((v) => !kept.includes(v))) {
    // The version first: a prune that stops half-way leaves no version without its checkpoint.
    await store.delete(modelVersionKey(name, version.version));
    deletedVersions.push(version.version);
    if (used.has(version.checkpoint) || deletedCheckpoints.includes(version.checkpoint)) continue;
    for (const key of await store.list(version.checkpoint)) await store.delete(key);
    deletedCheckpoints.push(version.checkpoint);
  }
  return { deletedVersions, deletedCheckpoints };
}
