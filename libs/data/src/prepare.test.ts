import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CsvDataSpec, TextDataSpec } from './data-spec';
import { DataError } from './errors/data-error';
import { localFileSource } from './byte-source';
import type { CsvManifest, TextManifest } from './manifest';
import { prepareDataset } from './prepare';
import { summarizeDataset } from './dataset-summary';
import { trainingRowCount, windowCount } from './windows';
import { BIRTHS_CSV, MemoryStore, SENSOR_CSV, mobyDickText } from '../../../test-support/dataset-fixtures';

const dir = mkdtempSync(join(tmpdir(), 'prepare-'));
let files = 0;
function tempFile(content: string | Uint8Array, extension = 'txt'): string {
  const path = join(dir, `f${files++}.${extension}`);
  writeFileSync(path, content);
  return path;
}

const window = { lookBack: 100, step: 1, horizon: 1 };
function textSpec(source: string, overrides: Partial<TextDataSpec> = {}): TextDataSpec {
  return { source, format: 'text', text: { lowercase: false }, window, validation: 0.1, ...overrides };
}
function csvSpec(source: string, csv: Partial<CsvDataSpec['csv']> = {}, overrides: Partial<CsvDataSpec> = {}): CsvDataSpec {
  return {
    source,
    format: 'csv',
    csv: { features: ['births', 'day_of_week'], targets: ['births'], normalization: 'zscore', ...csv },
    window: { lookBack: 14, step: 1, horizon: 1 },
    validation: 0.1,
    ...overrides,
  };
}

async function expectDataError(promise: Promise<unknown>, message: string | RegExp, store: MemoryStore): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  if (typeof message === 'string') expect((error as Error).message).toBe(message);
  else expect((error as Error).message).toMatch(message);
  expect(store.objects.size).toBe(0);
}

describe('prepareDataset: text', () => {
  const moby = mobyDickText();
  const mobyPath = tempFile(moby);
  const characters = Array.from(moby);

  it('packs Moby Dick with a vocabulary from the training rows and the documented counts', async () => {
    const store = new MemoryStore();
    const data = textSpec(mobyPath, { text: { lowercase: true } });
    const { manifest, created } = await prepareDataset({
      store,
      data,
      source: localFileSource(mobyPath, 'moby.txt'),
      segmentBytes: 300_000,
    });
    expect(created).toBe(true);
    const m = manifest as TextManifest;
    const lower = Array.from(moby.toLowerCase());
    expect(m.rows.total).toBe(characters.length); // Moby Dick has no character that lowercases to two
    expect(lower.length).toBe(characters.length);
    const trainRows = trainingRowCount(characters.length, 0.1);
    expect(m.rows).toEqual({ total: characters.length, train: trainRows, validation: characters.length - trainRows });
    const expectedVocabulary = [...new Set(lower.slice(0, trainRows))].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    expect(m.text.vocabulary).toEqual(expectedVocabulary);
    expect(m.text.unknownId).toBe(expectedVocabulary.length);
    expect(m.text.vocabularySize).toBe(expectedVocabulary.length + 1);
    expect(m.text.tokenType).toBe('uint8');
    // Bounded segments, the manifest last.
    expect(m.segments.length).toBe(Math.ceil(characters.length / 300_000));
    expect(m.segments.every((s) => s.bytes <= 300_000)).toBe(true);
    expect(await store.list(`datasets/${m.datasetId}/`)).toHaveLength(m.segments.length + 1);
    // The encoded tokens decode to the lowercased text (unknown -> U+FFFD).
    const bytes = await store.get(`datasets/${m.datasetId}/segment-00001.bin`);
    const decoded = Array.from(bytes.subarray(0, 200), (id) => m.text.vocabulary[id] ?? '\ufffd').join('');
    expect(decoded).toBe(lower.slice(300_000, 300_200).join(''));

    const summary = summarizeDataset(m, window);
    const total = characters.length - 101 + 1;
    expect(summary).toEqual({
      datasetId: m.datasetId,
      kind: 'text',
      rows: { train: trainRows, validation: characters.length - trainRows },
      windows: { train: trainRows - 100, validation: total - (trainRows - 100), total },
      vocabularySize: expectedVocabulary.length + 1,
    });
  });

  it('is a no-op the second time, also from a stream, and the id ignores window settings', async () => {
    const store = new MemoryStore();
    const first = await prepareDataset({ store, data: textSpec(mobyPath), source: localFileSource(mobyPath) });
    const puts = store.puts;
    const again = await prepareDataset({
      store,
      data: textSpec(mobyPath, { window: { lookBack: 40, step: 3, horizon: 2 } }),
      source: { name: 's3://bucket/moby.txt', stream: Readable.from([readFileSync(mobyPath)]) },
      tempDir: dir,
    });
    expect(again.created).toBe(false);
    expect(again.manifest.datasetId).toBe(first.manifest.datasetId);
    expect(store.puts).toBe(puts);
    const lowercased = await prepareDataset({
      store,
      data: textSpec(mobyPath, { text: { lowercase: true } }),
      source: localFileSource(mobyPath),
    });
    const otherSplit = await prepareDataset({ store, data: textSpec(mobyPath, { validation: 0.2 }), source: localFileSource(mobyPath) });
    expect(new Set([first.manifest.datasetId, lowercased.manifest.datasetId, otherSplit.manifest.datasetId]).size).toBe(3);
  });

  it('uses uint16 tokens when the vocabulary needs them and maps unseen validation characters to the unknown id', async () => {
    const train = Array.from({ length: 300 }, (_, i) => String.fromCodePoint(0x4e00 + i)).join('');
    const path = tempFile(`${train}${train}xyz\u00e9`); // 604 rows: the last 61 are validation rows
    const store = new MemoryStore();
    const { manifest } = await prepareDataset({
      store,
      data: textSpec(path, { window: { lookBack: 5, step: 1, horizon: 1 } }),
      source: localFileSource(path),
    });
    const m = manifest as TextManifest;
    expect(m.text.vocabulary.length).toBe(300);
    expect(m.text.tokenType).toBe('uint16');
    const ids = new Uint16Array((await store.get(`datasets/${m.datasetId}/segment-00000.bin`)).slice().buffer);
    expect(Array.from(ids.subarray(600))).toEqual([300, 300, 300, 300]);
    expect(ids[301]).toBe(1);
  });

  it('rejects text that is not UTF-8, writing nothing', async () => {
    const store = new MemoryStore();
    const path = tempFile(Uint8Array.from([0x68, 0x69, 0xff, 0xfe, 0x20, 0x61]));
    await expectDataError(
      prepareDataset({
        store,
        data: textSpec(path, { window: { lookBack: 1, step: 1, horizon: 1 } }),
        source: localFileSource(path, 'bad.txt'),
      }),
      'bad.txt: not valid UTF-8 text (byte offset 2)',
      store,
    );
  });

  it('accepts a BOM, which is not a row', async () => {
    const store = new MemoryStore();
    const path = tempFile('\ufeffabcabc');
    const { manifest } = await prepareDataset({
      store,
      data: textSpec(path, { window: { lookBack: 2, step: 1, horizon: 1 }, validation: 0 }),
      source: localFileSource(path),
    });
    expect(manifest.rows.total).toBe(6);
  });

  it('rejects a missing file, an empty file and too few rows, writing nothing', async () => {
    const store = new MemoryStore();
    await expectDataError(
      prepareDataset({ store, data: textSpec('nope.txt'), source: localFileSource(join(dir, 'nope.txt'), 'nope.txt') }),
      'nope.txt: file not found',
      store,
    );
    const empty = tempFile('');
    await expectDataError(
      prepareDataset({ store, data: textSpec(empty), source: localFileSource(empty, 'empty.txt') }),
      'empty.txt: file is empty',
      store,
    );
    const short = tempFile('x'.repeat(100));
    await expectDataError(
      prepareDataset({ store, data: textSpec(short), source: localFileSource(short, 'short.txt') }),
      'short.txt: it has 100 rows, fewer than lookBack + horizon = 101',
      store,
    );
  });
});

describe('prepareDataset: CSV', () => {
  it('packs daily US births with z-score statistics of the training rows', async () => {
    const store = new MemoryStore();
    const data = csvSpec(BIRTHS_CSV);
    const { manifest } = await prepareDataset({ store, data, source: localFileSource(BIRTHS_CSV, 'births.csv') });
    const m = manifest as CsvManifest;
    const lines = readFileSync(BIRTHS_CSV, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((line) => line.split(',').map(Number));
    const N = lines.length;
    const trainRows = trainingRowCount(N, 0.1);
    expect(m.rows).toEqual({ total: N, train: trainRows, validation: N - trainRows });
    expect(m.csv.columns).toEqual(['births', 'day_of_week']);
    expect(m.rowBytes).toBe(8);
    const births = lines.slice(0, trainRows).map((row) => row[4]!);
    const mean = births.reduce((a, b) => a + b, 0) / trainRows;
    const std = Math.sqrt(births.reduce((a, b) => a + (b - mean) ** 2, 0) / trainRows);
    if (m.csv.normalization.method !== 'zscore') throw new Error('expected zscore');
    expect(m.csv.normalization.mean[0]).toBeCloseTo(mean, 6);
    expect(m.csv.normalization.std[0]).toBeCloseTo(std, 6);
    // The split boundary: the first validation row is stored at row trainRows.
    const values = new Float32Array((await store.get(`datasets/${m.datasetId}/segment-00000.bin`)).slice().buffer);
    expect(values[trainRows * 2]).toBeCloseTo((lines[trainRows]![4]! - mean) / std, 5);

    const summary = summarizeDataset(m, data.window);
    const total = windowCount(N, data.window);
    const train = windowCount(trainRows, data.window);
    expect(summary.windows).toEqual({ train, validation: total - train, total });
    expect(summary.windows.total).toBe(N - 15 + 1);
    expect(summary.columns).toEqual({ features: ['births', 'day_of_week'], targets: ['births'] });
    expect(Object.keys(summary.statistics ?? {})).toEqual(['births', 'day_of_week']);
  });

  it('splits each sensor mote on its own and never lets a window cross motes', async () => {
    const store = new MemoryStore();
    const data = csvSpec(
      SENSOR_CSV,
      { features: ['humidity', 'temperature'], targets: ['temperature'], seriesBy: 'mote_id', normalization: 'minmax' },
      {
        window: { lookBack: 30, step: 5, horizon: 2 },
        validation: 0.2,
      },
    );
    const { manifest } = await prepareDataset({ store, data, source: localFileSource(SENSOR_CSV, 'sensor.csv') });
    const m = manifest as CsvManifest;
    expect(m.series.map((s) => [s.name, s.start, s.rows, s.trainRows])).toEqual([
      ['1', 0, 4690, 3752],
      ['2', 4690, 4690, 3752],
      ['3', 9380, 4690, 3752],
      ['4', 14070, 4690, 3752],
    ]);
    expect(m.csv.columns).toEqual(['humidity', 'temperature']);
    const summary = summarizeDataset(m, data.window);
    const perSeries = {
      train: windowCount(3752, data.window),
      validation: windowCount(4690, data.window) - windowCount(3752, data.window),
    };
    expect(summary.series).toEqual(
      ['1', '2', '3', '4'].map((name) => ({ name, rows: { train: 3752, validation: 938 }, windows: perSeries })),
    );
    expect(summary.windows.total).toBe(4 * windowCount(4690, data.window));
    // Min-max over the training rows only: every stored training value lies in [0, 1].
    const values = new Float32Array((await store.get(`datasets/${m.datasetId}/segment-00000.bin`)).slice().buffer);
    for (const s of m.series) {
      for (let r = s.start; r < s.start + s.trainRows; r++) {
        expect(values[r * 2]! >= 0 && values[r * 2]! <= 1 + 1e-6).toBe(true);
      }
    }
  });

  it('accepts a BOM and CRLF line endings', async () => {
    const store = new MemoryStore();
    const path = tempFile('\ufeffx,y\r\n1,2\r\n2,3\r\n3,4\r\n4,5\r\n', 'csv');
    const { manifest } = await prepareDataset({
      store,
      data: csvSpec(path, { features: ['x'], targets: ['y'] }, { window: { lookBack: 2, step: 1, horizon: 1 }, validation: 0 }),
      source: localFileSource(path),
    });
    expect(manifest.rows.total).toBe(4);
  });

  it.each([
    ['', 'bad.csv: file is empty'],
    ['births,day_of_week\n', 'bad.csv: no data rows after the header'],
    ['birth,day_of_week\n1,2\n', 'bad.csv:1: no column "births" in the header; the columns are: birth, day_of_week'],
    ['births,day_of_week\n1,2\n3,x\n', 'bad.csv:3: column "day_of_week": "x" is not a number'],
    ['births,day_of_week\n1,2\n3\n', 'bad.csv:3: expected 2 fields as in the header, got 1'],
    ['births,day_of_week\n1,NaN\n', 'bad.csv:2: column "day_of_week": "NaN" is not allowed (numbers must be finite)'],
    ['births,day_of_week\n1,Infinity\n', 'bad.csv:2: column "day_of_week": "Infinity" is not allowed (numbers must be finite)'],
    ['births,day_of_week\n' + '1,2\n'.repeat(14), 'bad.csv: it has 14 rows, fewer than lookBack + horizon = 15'],
  ])('rejects %j with one clear line and writes nothing', async (content, message) => {
    const store = new MemoryStore();
    const path = tempFile(content, 'csv');
    await expectDataError(prepareDataset({ store, data: csvSpec(path), source: localFileSource(path, 'bad.csv') }), message, store);
  });

  it('does not write a manifest when the store fails midway', async () => {
    const store = new MemoryStore();
    let puts = 0;
    const failing = Object.assign(Object.create(store) as MemoryStore, {
      put: async (key: string, body: Uint8Array | string) => {
        if (++puts === 2) throw new Error('store down');
        return store.put(key, body);
      },
    });
    await expect(
      prepareDataset({ store: failing, data: csvSpec(BIRTHS_CSV), source: localFileSource(BIRTHS_CSV), segmentBytes: 8000 }),
    ).rejects.toThrow('store down');
    expect([...store.objects.keys()].some((key) => key.endsWith('manifest.json'))).toBe(false);
  });

  it('encodes like an earlier dataset when asked: same normalization, another id', async () => {
    const store = new MemoryStore();
    const first = (await prepareDataset({ store, data: csvSpec(BIRTHS_CSV), source: localFileSource(BIRTHS_CSV) })).manifest as CsvManifest;
    const lines = readFileSync(BIRTHS_CSV, 'utf8').split('\n');
    const newer = tempFile([lines[0], ...lines.slice(2000, 2500)].join('\n'), 'csv');
    const second = (await prepareDataset({ store, data: csvSpec(newer), source: localFileSource(newer), encodeLike: first }))
      .manifest as CsvManifest;
    expect(second.csv.normalization).toEqual(first.csv.normalization);
    const fresh = (await prepareDataset({ store, data: csvSpec(newer), source: localFileSource(newer) })).manifest as CsvManifest;
    expect(fresh.csv.normalization).not.toEqual(first.csv.normalization);
    expect(fresh.datasetId).not.toBe(second.datasetId);
    await expect(
      prepareDataset({
        store,
        data: csvSpec(newer, { normalization: 'minmax' }),
        source: localFileSource(newer, 'new.csv'),
        encodeLike: first,
      }),
    ).rejects.toThrow(`new.csv: cannot encode like dataset ${first.datasetId}: its normalization is zscore`);
  });
});

describe('prepareDataset: encodeLike for text', () => {
  it('keeps the earlier vocabulary; new characters get the unknown id', async () => {
    const store = new MemoryStore();
    const old = tempFile('abcabcabcabc');
    const data = textSpec(old, { window: { lookBack: 2, step: 1, horizon: 1 }, validation: 0 });
    const first = (await prepareDataset({ store, data, source: localFileSource(old) })).manifest as TextManifest;
    const newer = tempFile('abxyab');
    const second = (await prepareDataset({ store, data, source: localFileSource(newer), encodeLike: first })).manifest as TextManifest;
    expect(second.text.vocabulary).toEqual(['a', 'b', 'c']);
    expect(Array.from(await store.get(`datasets/${second.datasetId}/segment-00000.bin`))).toEqual([0, 1, 3, 3, 0, 1]);
  });
});
