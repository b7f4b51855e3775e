import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { localFileSource } from './byte-source';
import { denormalizeTargets, featureNormalization, featureWindows, readCsvTable, targetNormalization } from './inference-encoding';
import type { CsvManifest } from './manifest';
import { prepareDataset } from './prepare';
import { openDataset } from './reader';
import { BIRTHS_CSV, MemoryStore } from '../../../test-support/dataset-fixtures';

describe('CSV inference helpers', () => {
  it('encode windows exactly as the packed dataset does and map targets back to original units', async () => {
    const store = new MemoryStore();
    const window = { lookBack: 14, step: 1, horizon: 1 };
    const data = {
      source: BIRTHS_CSV,
      format: 'csv' as const,
      csv: { features: ['births', 'day_of_week'], targets: ['births'], normalization: 'zscore' as const },
      window,
      validation: 0.1,
    };
    const manifest = (await prepareDataset({ store, data, source: localFileSource(BIRTHS_CSV) })).manifest as CsvManifest;
    const reader = await openDataset(store, manifest.datasetId, { cacheDir: mkdtempSync(join(tmpdir(), 'inference-')), window });
    const table = await readCsvTable(localFileSource(BIRTHS_CSV), manifest.csv.features);
    expect(table.rows).toBe(manifest.rows.total);
    const batch = await reader.assembleBatch([5, 100], 'train');
    expect(featureWindows(table, manifest.csv, 14, [5, 100])).toEqual(batch.features);
    const births = readFileSync(BIRTHS_CSV, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => Number(line.split(',')[4]));
    const predicted = denormalizeTargets(batch.targets!, manifest.csv);
    expect(predicted[0]).toBeCloseTo(births[5 + 14]!, 2);
    expect(predicted[1]).toBeCloseTo(births[100 + 14]!, 2);
    expect(featureNormalization(manifest.csv).method).toBe('zscore');
    const normalization = manifest.csv.normalization;
    if (normalization.method !== 'zscore') throw new Error('expected zscore');
    expect(targetNormalization(manifest.csv)).toEqual({ method: 'zscore', mean: [normalization.mean[0]], std: [normalization.std[0]] });
    expect(() => featureWindows(table, manifest.csv, 14, [table.rows - 13])).toThrow(RangeError);
  });

  it('reads prediction input with the same errors as prepare', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'inference-')), 'in.csv');
    writeFileSync(path, 'births,day_of_week\n1,2\n3,four\n');
    await expect(readCsvTable(localFileSource(path, 'in.csv'), ['births', 'day_of_week'])).rejects.toThrow(
      'in.csv:3: column "day_of_week": "four" is not a number',
    );
    await expect(readCsvTable(localFileSource(`${path}.missing`, 'gone.csv'), ['births'])).rejects.toThrow('gone.csv: file not found');
  });
});
