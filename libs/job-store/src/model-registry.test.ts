// The model registry on a local-directory store (its compare-and-set is a lock file and a
// rename): version numbers, the production alias, promote, rollback, prune, and what reads a
// model by name follows (production, or latest.json of a store without versions).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { validateJobSpec } from '@lstm-runner/protocol';
import { openStore, type ObjectStore } from '@lstm-runner/storage';
import { ModelRegistryError } from './errors/model-registry-error';
import { publishModelPointer } from './model-pointer';
import {
  listModelNames,
  modelSummary,
  promoteVersion,
  publishVersion,
  pruneVersions,
  readProductionModel,
  rollbackProduction,
} from './model-registry';
import { createModelVersion, listVersionNumbers, type VersionDraft } from './model-versions';
import { readProductionAlias } from './production-alias';

const spec = validateJobSpec(
  { name: 'sensors', data: { source: 'd.csv', format: 'csv', csv: { features: ['t'], targets: ['t'] }, window: { lookBack: 4 } } },
  'spec.yaml',
);

let dir: string;
let store: ObjectStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registry-'));
  store = openStore(dir);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A run's draft: gated against `baselineVersion` with these figures (no evaluation: the first run). */
function draft(
  jobId: string,
  promoted: boolean,
  figures?: { value: number; baselineVersion: number | null; baselineValue: number | null },
): VersionDraft {
  return {
    name: 'sensors',
    jobId,
    createdAt: '2026-11-29T20:00:00.000Z',
    checkpoint: `jobs/${jobId}/checkpoints/0000000010-t1/`,
    step: 10,
    spec,
    datasetId: `csv-${jobId}`,
    lineage: { warmStartVersion: null, warmStartFrom: null, scheduleId: null },
    evaluation: figures === undefined ? null : { metric: 'mae', data: 'holdout golden.csv', ...figures },
    promoted,
    reason: promoted ? 'passed' : 'worse',
    fencingToken: 1,
  };
}

async function putCheckpoint(jobId: string): Promise<void> {
  await store.put(`jobs/${jobId}/checkpoints/0000000010-t1/weights.bin`, 'w');
}

describe('model versions', () => {
  it('gives concurrent allocations distinct numbers', async () => {
    const versions = await Promise.all(Array.from({ length: 12 }, (_, i) => createModelVersion(store, draft(`job-${i}`, false))));
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(new Set(versions.map((v) => v.jobId)).size).toBe(12);
    expect(await listVersionNumbers(store, 'sensors')).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });

  it('promotes passing versions, keeps a failing one with its figures, and moves by hand', async () => {
    expect((await publishVersion(store, draft('a', true))).production).toBe(true);
    expect((await publishVersion(store, draft('b', true, { value: 1.1, baselineVersion: 1, baselineValue: 1.2 }))).production).toBe(true);
    const third = await publishVersion(store, draft('c', false, { value: 40, baselineVersion: 2, baselineValue: 1.1 }));
    expect(third).toMatchObject({ version: { version: 3, promoted: false }, production: false });
    // A second publishing of one job (a new owner finishing it) writes no second version.
    expect((await publishVersion(store, draft('c', false))).version.version).toBe(3);
    const summary = await modelSummary(store, 'sensors');
    expect(summary.production).toBe(2);
    expect(summary.versions[2]).toEqual({
      version: 3,
      jobId: 'c',
      createdAt: '2026-11-29T20:00:00.000Z',
      metric: 'mae',
      value: 40,
      baselineValue: 1.1,
      promoted: false,
      reason: 'worse',
    });
    expect((await readProductionModel(store, 'sensors'))?.checkpoint).toBe('jobs/b/checkpoints/0000000010-t1/');

    expect((await promoteVersion(store, 'sensors', 3)).version).toBe(3);
    expect((await rollbackProduction(store, 'sensors')).version).toBe(2);
    expect((await rollbackProduction(store, 'sensors')).version).toBe(1);
    await expect(rollbackProduction(store, 'sensors')).rejects.toBeInstanceOf(ModelRegistryError);
    await expect(promoteVersion(store, 'sensors', 9)).rejects.toThrow('has no version 9');
    expect(await listModelNames(store)).toEqual(['sensors']);
  });

  it('never moves production over a version promoted after the gate compared with another', async () => {
    await publishVersion(store, draft('a', true));
    // Two runs gated against v1 at once: the first to move the alias wins; the other stays a version.
    const [b, c] = await Promise.all([
      publishVersion(store, draft('b', true, { value: 1, baselineVersion: 1, baselineValue: 2 })),
      publishVersion(store, draft('c', true, { value: 1, baselineVersion: 1, baselineValue: 2 })),
    ]);
    expect(new Set([b.version.version, c.version.version])).toEqual(new Set([2, 3]));
    expect([b.production, c.production].filter(Boolean)).toHaveLength(1);
    const alias = await readProductionAlias(store, 'sensors');
    expect(alias?.version).toBe(b.production ? b.version.version : c.version.version);
    expect(alias?.history).toEqual([1]);
  });

  it('writes nothing for a writer whose fence refuses it (a stale coordinator)', async () => {
    await publishVersion(store, draft('a', true));
    const stale = async (): Promise<void> => {
      throw new Error('fencing token 1 is stale');
    };
    await expect(publishVersion(store, draft('b', true, { value: 1, baselineVersion: 1, baselineValue: 2 }), stale)).rejects.toThrow(
      'stale',
    );
    expect(await listVersionNumbers(store, 'sensors')).toEqual([1]);
    expect((await readProductionAlias(store, 'sensors'))?.version).toBe(1);
  });

  it('reads models/<name>/latest.json of a store without versions, and production once there is one', async () => {
    await publishModelPointer(store, 'latest', {
      name: 'sensors',
      jobId: 'old',
      checkpoint: 'jobs/old/checkpoints/0000000005/',
      step: 5,
      datasetId: 'csv-old',
      validationLoss: null,
      updatedAt: 'then',
    });
    expect(await readProductionModel(store, 'sensors')).toEqual({
      version: null,
      jobId: 'old',
      checkpoint: 'jobs/old/checkpoints/0000000005/',
      step: 5,
      datasetId: 'csv-old',
    });
    expect(await modelSummary(store, 'sensors')).toEqual({ name: 'sensors', production: null, versions: [] });
    await publishVersion(store, draft('a', true));
    expect(await readProductionModel(store, 'sensors')).toMatchObject({ version: 1, jobId: 'a' });
    await expect(modelSummary(store, 'other')).rejects.toThrow("no model named 'other'");
  });

  it('prunes to the last N versions and production, deleting checkpoints no kept version uses', async () => {
    for (const [jobId, promoted] of [
      ['a', true],
      ['b', true],
      ['c', false],
      ['d', false],
    ] as const) {
      await putCheckpoint(jobId);
      await publishVersion(
        store,
        draft(jobId, promoted, jobId === 'a' ? undefined : { value: 1, baselineVersion: promoted ? 1 : 2, baselineValue: 1 }),
      );
    }
    expect((await readProductionAlias(store, 'sensors'))?.version).toBe(2);
    const result = await pruneVersions(store, 'sensors', 1);
    expect(result).toEqual({
      deletedVersions: [1, 3],
      deletedCheckpoints: ['jobs/a/checkpoints/0000000010-t1/', 'jobs/c/checkpoints/0000000010-t1/'],
    });
    expect(await listVersionNumbers(store, 'sensors')).toEqual([2, 4]);
    expect(await store.list('jobs/')).toEqual([
      'jobs/b/checkpoints/0000000010-t1/weights.bin',
      'jobs/d/checkpoints/0000000010-t1/weights.bin',
    ]);
    // Rolling back skips versions pruned since.
    await promoteVersion(store, 'sensors', 4);
    expect((await rollbackProduction(store, 'sensors')).version).toBe(2);
    await expect(rollbackProduction(store, 'sensors')).rejects.toThrow('no earlier production version');
    await expect(pruneVersions(store, 'other', 1)).rejects.toThrow('model other has no versions');
  });
});
