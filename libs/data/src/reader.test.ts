import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { localFileSource } from './byte-source';
import type { CsvDataSpec, TextDataSpec } from './data-spec';
import { DatasetFormatError } from './errors/dataset-format-error';
import { DatasetIntegrityError } from './errors/dataset-integrity-error';
import { datasetManifestKey, type CsvManifest, type TextManifest } from './manifest';
import { prepareDataset } from './prepare';
import { openDataset } from './reader';
import { ShardPlan } from './shard-plan';
import { BIRTHS_CSV, MemoryStore, SENSOR_CSV, mobyDickText } from '../../../test-support/dataset-fixtures';

const dir = mkdtempSync(join(tmpdir(), 'reader-'));
const mobyPath = join(dir, 'moby.txt');
const moby = mobyDickText();
writeFileSync(mobyPath, moby);

const textData: TextDataSpec = {
  source: mobyPath,
  format: 'text',
  text: { lowercase: false },
  window: { lookBack: 100, step: 3, horizon: 2 },
  validation: 0.1,
};

describe('DatasetReader: text', () => {
  const store = new MemoryStore();
  let manifest: TextManifest;
  beforeAll(async () => {
    // Small segments, so windows cross segment boundaries.
    manifest = (await prepareDataset({ store, data: textData, source: localFileSource(mobyPath), segmentBytes: 65_536 }))
      .manifest as TextManifest;
  });

  it('assembles char-LM batches: lookBack input tokens and the token of the target row', async () => {
    const reader = await openDataset(store, manifest.datasetId, { cacheDir: join(dir, 'cache-a'), window: textData.window });
    const characters = Array.from(moby);
    const vocabulary = manifest.text.vocabulary;
    const id = (ch: string) => (vocabulary.includes(ch) ? vocabulary.indexOf(ch) : manifest.text.unknownId);
    const plan = new ShardPlan({ seed: 7, epochs: 1, batchSize: 64, shardSize: 16 }, reader.layout);
    const windows = plan.shardWindows({ epoch: 0, stepInEpoch: 3, shard: 2 });
    const batch = await reader.assembleBatch(windows, 'train');
    expect(batch.B).toBe(16);
    expect(batch.T).toBe(100);
    windows.forEach((w, b) => {
      const first = w * 3;
      expect(Array.from(batch.tokens!.subarray(b * 100, b * 100 + 100))).toEqual(characters.slice(first, first + 100).map(id));
      expect(batch.classes![b]).toBe(id(characters[first + 101]!));
    });
    // Validation windows start after the training windows, in order.
    const validation = await reader.assembleBatch([0, reader.layout.validationWindows - 1], 'validation');
    const firstValidation = reader.layout.trainWindows * 3;
    expect(Array.from(validation.tokens!.subarray(0, 100))).toEqual(characters.slice(firstValidation, firstValidation + 100).map(id));
    const last = (reader.layout.totalWindows - 1) * 3;
    expect(validation.classes![1]).toBe(id(characters[last + 101]!));
    expect(reader.layout.rowsOf('validation', 0).target).toBeGreaterThanOrEqual(manifest.rows.train);
  });

  it('fetches only the segments a shard touches and caches them on disk', async () => {
    const cacheDir = join(dir, 'cache-b');
    const reader = await openDataset(store, manifest.datasetId, { cacheDir, window: textData.window });
    const needed = reader.segmentsFor([0, 1], 'train');
    expect(needed).toEqual([0]);
    const crossing = Math.floor((65_536 - 50) / 3); // inputs span segments 0 and 1
    expect(reader.segmentsFor([crossing], 'train')).toEqual([0, 1]);
    await reader.assembleBatch([crossing], 'train');
    expect(readdirSync(join(cacheDir, manifest.datasetId)).sort()).toEqual(
      [manifest.segments[0]!.sha256, manifest.segments[1]!.sha256].map((h) => `${h}.bin`).sort(),
    );
    // From the cache alone: a store without segments still serves them.
    const manifestOnly = new MemoryStore();
    await manifestOnly.put(datasetManifestKey(manifest.datasetId), await store.get(datasetManifestKey(manifest.datasetId)));
    const cachedReader = await openDataset(manifestOnly, manifest.datasetId, { cacheDir, window: textData.window });
    const batch = await cachedReader.assembleBatch([crossing], 'train');
    expect(batch.tokens).toEqual((await reader.assembleBatch([crossing], 'train')).tokens);
  });

  it('keeps the disk cache within its bound, least recently used out first, and counts hits', async () => {
    const cacheDir = join(dir, 'cache-bound');
    const inSegment = (s: number) => Math.ceil((s * 65_536) / 3) + 1; // inputs within segment s
    const cached = () => readdirSync(join(cacheDir, manifest.datasetId)).sort();
    const file = (s: number) => `${manifest.segments[s]!.sha256}.bin`;
    // Room for two segments on disk and one in memory: every other lookup goes to the disk.
    const options = { cacheDir, window: textData.window, memoryBytes: 1, cacheMaxBytes: 2 * 65_536 + 100 };
    const reader = await openDataset(store, manifest.datasetId, options);
    const pause = () => new Promise((resolve) => setTimeout(resolve, 20)); // mtimes in order
    await reader.assembleBatch([inSegment(0)], 'train');
    await pause();
    await reader.assembleBatch([inSegment(1)], 'train');
    await pause();
    await reader.assembleBatch([inSegment(0)], 'train'); // a disk hit: segment 0 is now the most recent
    await pause();
    await reader.assembleBatch([inSegment(2)], 'train');
    expect(cached()).toEqual([file(0), file(2)].sort());
    await reader.assembleBatch([inSegment(2)], 'train'); // in memory
    expect(reader.cacheStats()).toEqual({ memoryHits: 1, diskHits: 1, misses: 3, bytesFetched: 3 * 65_536, evictions: 1 });
    // Another reader (another process) shares the directory and its order.
    const other = await openDataset(store, manifest.datasetId, options);
    await pause();
    await other.assembleBatch([inSegment(3)], 'train');
    expect(cached()).toEqual([file(2), file(3)].sort());
    expect(other.cacheStats()).toMatchObject({ misses: 1, evictions: 1 });
  });

  it('evicts exactly what exceeds the bound when one batch fetches several segments at once', async () => {
    const cacheDir = join(dir, 'cache-concurrent');
    const reader = await openDataset(store, manifest.datasetId, { cacheDir, window: textData.window, cacheMaxBytes: 2 * 65_536 });
    const windows = [0, 1, 2, 3].map((s) => Math.ceil((s * 65_536) / 3) + 1);
    await reader.assembleBatch(windows, 'train');
    expect(readdirSync(join(cacheDir, manifest.datasetId))).toHaveLength(2);
    expect(reader.cacheStats()).toMatchObject({ misses: 4, evictions: 2 });
  });

  it('refuses a corrupt segment, naming its key, and refetches a corrupt cache file', async () => {
    const corrupt = new MemoryStore();
    for (const [key, body] of store.objects) await corrupt.put(key, body);
    const key = `datasets/${manifest.datasetId}/segment-00002.bin`;
    const bytes = await corrupt.get(key);
    bytes[10] = bytes[10]! ^ 1;
    await corrupt.put(key, bytes);
    const cacheDir = join(dir, 'cache-c');
    const reader = await openDataset(corrupt, manifest.datasetId, { cacheDir, window: textData.window });
    const inSegment2 = Math.ceil((2 * 65_536) / 3);
    const error = await reader.assembleBatch([inSegment2], 'train').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetIntegrityError);
    expect((error as DatasetIntegrityError).key).toBe(key);
    expect((error as Error).message).toBe(`${key}: sha256 does not match the manifest: the segment is corrupt`);
    expect(existsSync(join(cacheDir, manifest.datasetId))).toBe(false); // never cached

    // A damaged cache file is not an error: the good bytes are fetched again.
    const goodCache = join(dir, 'cache-d');
    await (await openDataset(store, manifest.datasetId, { cacheDir: goodCache, window: textData.window })).assembleBatch([0], 'train');
    writeFileSync(join(goodCache, manifest.datasetId, `${manifest.segments[0]!.sha256}.bin`), 'garbage');
    const again = await openDataset(store, manifest.datasetId, { cacheDir: goodCache, window: textData.window });
    expect((await again.assembleBatch([0], 'train')).tokens!.length).toBe(100);
  });

  it('refuses an unknown format version and a missing dataset', async () => {
    const other = new MemoryStore();
    const key = datasetManifestKey(manifest.datasetId);
    const text = new TextDecoder().decode(await store.get(key));
    await other.put(key, text.replace('"formatVersion": 1', '"formatVersion": 2'));
    await expect(openDataset(other, manifest.datasetId, { cacheDir: dir, window: textData.window })).rejects.toThrow(
      new DatasetFormatError(key, 'dataset format version 2 is not supported (this version reads 1)'),
    );
    await expect(openDataset(other, 'text-missing', { cacheDir: dir, window: textData.window })).rejects.toThrow(DatasetFormatError);
  });
});

describe('DatasetReader: CSV', () => {
  it('assembles normalized feature windows and targets that never cross a series', async () => {
    const store = new MemoryStore();
    const data: CsvDataSpec = {
      source: SENSOR_CSV,
      format: 'csv',
      csv: { features: ['humidity', 'temperature'], targets: ['temperature'], seriesBy: 'mote_id', normalization: 'zscore' },
      window: { lookBack: 30, step: 1, horizon: 1 },
      validation: 0.1,
    };
    const manifest = (await prepareDataset({ store, data, source: localFileSource(SENSOR_CSV), segmentBytes: 4096 }))
      .manifest as CsvManifest;
    const reader = await openDataset(store, manifest.datasetId, { cacheDir: join(dir, 'cache-csv'), window: data.window });
    const rows = readFileSync(SENSOR_CSV, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','));
    if (manifest.csv.normalization.method !== 'zscore') throw new Error('expected zscore');
    const { mean, std } = manifest.csv.normalization;
    const perMote = reader.layout.trainWindows / 4;
    // The last training window of mote 1 and the first of mote 2.
    const batch = await reader.assembleBatch([perMote - 1, perMote], 'train');
    expect(batch.features!.length).toBe(2 * 30 * 2);
    const expectRow = (b: number, t: number, row: number) => {
      expect(batch.features![(b * 30 + t) * 2]).toBeCloseTo((Number(rows[row]![3]) - mean[0]!) / std[0]!, 5);
      expect(batch.features![(b * 30 + t) * 2 + 1]).toBeCloseTo((Number(rows[row]![4]) - mean[1]!) / std[1]!, 5);
    };
    const trainRows = manifest.series[0]!.trainRows;
    expectRow(0, 0, trainRows - 31);
    expectRow(0, 29, trainRows - 2);
    expect(batch.targets![0]).toBeCloseTo((Number(rows[trainRows - 1]![4]) - mean[1]!) / std[1]!, 5);
    expectRow(1, 0, 4690);
    expect(rows[4690]![1]).toBe('2');
    expect(batch.targets![1]).toBeCloseTo((Number(rows[4690 + 30]![4]) - mean[1]!) / std[1]!, 5);
  });

  it('reads the births data with targets that are also features', async () => {
    const store = new MemoryStore();
    const data: CsvDataSpec = {
      source: BIRTHS_CSV,
      format: 'csv',
      csv: { features: ['day_of_week', 'births'], targets: ['births'], normalization: 'minmax' },
      window: { lookBack: 7, step: 1, horizon: 1 },
      validation: 0,
    };
    const manifest = (await prepareDataset({ store, data, source: localFileSource(BIRTHS_CSV) })).manifest;
    const reader = await openDataset(store, manifest.datasetId, { cacheDir: join(dir, 'cache-births'), window: data.window });
    expect(reader.layout.validationWindows).toBe(0);
    const batch = await reader.assembleBatch([0], 'train');
    // Row 7's births as a target equals row 7's births as a feature of the window starting at 1.
    const next = await reader.assembleBatch([1], 'train');
    expect(batch.targets![0]).toBe(next.features![6 * 2 + 1]);
  });
});
