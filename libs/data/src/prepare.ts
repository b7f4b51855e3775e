// prepare: source bytes -> a packed, checksummed dataset in the store. Everything that can be
// wrong with the input is found before the first object is written, and the manifest is
// written last, so a failed prepare leaves no dataset behind (and nothing at all when the
// input is bad). An existing manifest for the same id means the work is done: nothing is
// written again.
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodingSettingsOf, type CsvDataSpec, type DataSpec, type TextDataSpec } from './data-spec';
import { DataError } from './errors/data-error';
import { readFileChunks, readFileChunksReusing, toLocalBytes, type ByteSource, type LocalBytes } from './byte-source';
import { readCsv } from './csv-source';
import { readTextCodePoints } from './text-source';
import { TokenEncoder, tokenBytes, tokenTypeFor, vocabularyFromFirstSeen } from './vocabulary';
import { ColumnStatistics, affineColumns, type Normalization } from './normalization';
import { WindowLayout, trainingRowCount } from './windows';
import {
  DATASET_FORMAT_VERSION,
  datasetIdFor,
  datasetManifestKey,
  loadManifest,
  type CsvManifest,
  type DatasetManifest,
  type InheritedEncoding,
  type SeriesEntry,
  type TextManifest,
} from './manifest';
import { SegmentWriter } from './segment-writer';
import type { ObjectStore } from '@lstm-runner/storage';

export const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;

export interface PrepareDatasetOptions {
  readonly store: ObjectStore;
  /** The spec's data section; its window settings are only checked (at least one training window). */
  readonly data: DataSpec;
  readonly source: ByteSource;
  /** Upper bound of a segment's size; default 16 MiB. */
  readonly segmentBytes?: number;
  /** Where a streamed source and intermediate files are spooled; default os.tmpdir(). */
  readonly tempDir?: string;
  /**
   * Encode with this dataset's vocabulary (text) or normalization (CSV) instead of fitting new
   * ones, so that a model retrained on new data sees the encoding it was trained with.
   */
  readonly encodeLike?: DatasetManifest | undefined;
}

export interface PreparedDataset {
  readonly manifest: DatasetManifest;
  /** False when the dataset was already in the store (nothing was written). */
  readonly created: boolean;
}

export async function prepareDataset(options: PrepareDatasetOptions): Promise<PreparedDataset> {
  const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isInteger(segmentBytes) || segmentBytes < 1)
    throw new RangeError(`segmentBytes must be a positive integer, got ${segmentBytes}`);
  const workDir = await mkdtemp(join(options.tempDir ?? tmpdir(), 'lstm-prepare-'));
  try {
    const local = await toLocalBytes(options.source, workDir);
    if (local.bytes === 0) throw new DataError('file is empty', { file: local.name });
    const inherited = options.encodeLike === undefined ? undefined : inheritedEncoding(options.encodeLike, options.data, local.name);
    const datasetId = datasetIdFor(local.sha256, encodingSettingsOf(options.data), inherited);
    const manifestKey = datasetManifestKey(datasetId);
    if ((await options.store.head(manifestKey)) !== null) {
      const manifest = await loadManifest(options.store, datasetId);
      new WindowLayout(manifest.series, options.data.window, local.name);
      return { manifest, created: false };
    }
    const target: PackTarget = { store: options.store, datasetId, segmentBytes, workDir, inherited };
    const manifest =
      options.data.format === 'text' ? await packText(local, options.data, target) : await packCsv(local, options.data, target);
    await options.store.put(manifestKey, JSON.stringify(manifest, null, 1));
    return { manifest, created: true };
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

interface PackTarget {
  readonly store: ObjectStore;
  readonly datasetId: string;
  readonly segmentBytes: number;
  readonly workDir: string;
  readonly inherited: InheritedEncoding | undefined;
}

/** What `encodeLike` contributes; a DataError when its encoding cannot apply to `data`. */
function inheritedEncoding(like: DatasetManifest, data: DataSpec, file: string): InheritedEncoding {
  const fail = (detail: string): never => {
    throw new DataError(`cannot encode like dataset ${like.datasetId}: ${detail}`, { file });
  };
  if (like.kind !== data.format) return fail(`it is ${like.kind} data, this is ${data.format}`);
  if (like.kind === 'text' && data.format === 'text') {
    if (like.text.lowercase !== data.text.lowercase) fail('its lowercase setting differs');
    return { vocabulary: like.text.vocabulary };
  }
  if (like.kind === 'csv' && data.format === 'csv') {
    const columns = storedColumns(data.csv.features, data.csv.targets);
    if (like.csv.columns.join('\n') !== columns.join('\n')) fail(`its columns are ${like.csv.columns.join(', ')}`);
    if (like.csv.normalization.method !== data.csv.normalization) fail(`its normalization is ${like.csv.normalization.method}`);
    return { normalization: like.csv.normalization };
  }
  return fail('unreachable');
}

function rowsPerSegmentFor(target: PackTarget, rowBytes: number): number {
  return Math.max(1, Math.floor(target.segmentBytes / rowBytes));
}

async function packText(local: LocalBytes, data: TextDataSpec, target: PackTarget): Promise<TextManifest> {
  const { lowercase } = data.text;
  // Pass 1: validate, count the rows and note where each character first appears; the
  // vocabulary is the characters first seen in the training rows.
  const firstSeen = new Map<number, number>();
  const seenBmp = new Uint8Array(0x10000);
  let row = 0;
  const rows = await readTextCodePoints(readFileChunksReusing(local.path), local.name, lowercase, (codePoints, length) => {
    for (let i = 0; i < length; i++, row++) {
      const cp = codePoints[i]!;
      if (cp < 0x10000) {
        if (seenBmp[cp] === 1) continue;
        seenBmp[cp] = 1;
      } else if (firstSeen.has(cp)) continue;
      firstSeen.set(cp, row);
    }
  });
  if (rows === 0) throw new DataError('no text (the file holds only a byte order mark)', { file: local.name });
  const trainRows = trainingRowCount(rows, data.validation);
  const series: SeriesEntry[] = [{ name: null, start: 0, rows, trainRows }];
  new WindowLayout(series, data.window, local.name);
  const vocabulary =
    target.inherited !== undefined && 'vocabulary' in target.inherited
      ? [...target.inherited.vocabulary]
      : vocabularyFromFirstSeen(firstSeen, trainRows);
  const encoder = new TokenEncoder(vocabulary);
  const tokenType = tokenTypeFor(vocabulary.length + 1);
  const rowBytes = tokenBytes(tokenType);

  // Pass 2: encode and write.
  const rowsPerSegment = rowsPerSegmentFor(target, rowBytes);
  const writer = new SegmentWriter(target.store, target.datasetId, rowBytes, rowsPerSegment, rows);
  const TokenArray = tokenType === 'uint8' ? Uint8Array : tokenType === 'uint16' ? Uint16Array : Int32Array;
  let ids = new TokenArray(0);
  await readTextCodePoints(readFileChunksReusing(local.path), local.name, lowercase, async (codePoints, length) => {
    if (ids.length < length) ids = new TokenArray(codePoints.length); // reused: no garbage per chunk
    for (let i = 0; i < length; i++) ids[i] = encoder.idOf(codePoints[i]!);
    await writer.write(new Uint8Array(ids.buffer, 0, length * rowBytes));
  });
  const segments = await writer.finish();
  return {
    ...manifestBase(target, local, data, { total: rows, train: trainRows }, series, { rowBytes, rowsPerSegment, segments }),
    kind: 'text',
    text: { lowercase, vocabulary, unknownId: vocabulary.length, vocabularySize: vocabulary.length + 1, tokenType },
  };
}

/** What every manifest holds whatever its kind: the source, the rows and the segments. */
function manifestBase(
  target: PackTarget,
  local: LocalBytes,
  data: DataSpec,
  rows: { readonly total: number; readonly train: number },
  series: readonly SeriesEntry[],
  packing: Pick<TextManifest, 'rowBytes' | 'rowsPerSegment' | 'segments'>,
): Omit<TextManifest, 'kind' | 'text'> {
  return {
    formatVersion: DATASET_FORMAT_VERSION,
    datasetId: target.datasetId,
    source: { name: local.name, bytes: local.bytes, sha256: local.sha256 },
    validation: data.validation,
    rows: { total: rows.total, train: rows.train, validation: rows.total - rows.train },
    series,
    ...packing,
  };
}

/** The stored columns: the features, then the targets that are not also features. */
export function storedColumns(features: readonly string[], targets: readonly string[]): string[] {
  return [...features, ...targets.filter((t) => !features.includes(t))];
}

const RAW_CHUNK_ROWS = 1 << 14;

async function packCsv(local: LocalBytes, data: CsvDataSpec, target: PackTarget): Promise<CsvManifest> {
  const { features, targets, seriesBy, normalization: method } = data.csv;
  const columns = storedColumns(features, targets);
  const C = columns.length;

  // Pass 1: parse and validate, keeping the selected values (float64, original units) in a
  // local file, because normalization needs the row counts (hence the training rows) first.
  const rawPath = join(target.workDir, 'values.f64');
  const fd = openSync(rawPath, 'w');
  const series: { name: string | null; start: number; rows: number }[] = [];
  let current: { name: string | null; start: number; rows: number } | undefined;
  const chunk = new Float64Array(RAW_CHUNK_ROWS * C);
  let chunkRows = 0;
  const flushRaw = (): void => {
    writeSync(fd, new Uint8Array(chunk.buffer, 0, chunkRows * C * 8));
    chunkRows = 0;
  };
  let totalRows = 0;
  try {
    await readCsv(
      readFileChunks(local.path),
      local.name,
      { columns, ...(seriesBy === undefined ? {} : { seriesBy }) },
      (values, seriesKey) => {
        const name = seriesKey ?? null;
        if (current === undefined || (seriesBy !== undefined && name !== current.name)) {
          current = { name, start: totalRows, rows: 0 };
          series.push(current);
        }
        current.rows++;
        totalRows++;
        chunk.set(values, chunkRows * C);
        if (++chunkRows === RAW_CHUNK_ROWS) flushRaw();
      },
    );
    if (chunkRows > 0) flushRaw();
  } finally {
    closeSync(fd);
  }
  const seriesEntries: SeriesEntry[] = series.map((s) => ({ ...s, trainRows: trainingRowCount(s.rows, data.validation) }));
  new WindowLayout(seriesEntries, data.window, local.name);

  // Pass 2: fit the normalization on the training rows of every series (unless inherited).
  let normalization: Normalization;
  if (target.inherited !== undefined && 'normalization' in target.inherited) {
    normalization = target.inherited.normalization;
  } else {
    const statistics = new ColumnStatistics(C);
    await forEachRawChunk(rawPath, C, (values, firstRow, rows) => {
      forEachTrainingRow(seriesEntries, firstRow, rows, (r) => statistics.add(values, (r - firstRow) * C));
    });
    normalization = statistics.fit(method);
  }
  const { shift, scale } = affineColumns(normalization);

  // Pass 3: normalize to float32 and write.
  const rowBytes = C * 4;
  const rowsPerSegment = rowsPerSegmentFor(target, rowBytes);
  const writer = new SegmentWriter(target.store, target.datasetId, rowBytes, rowsPerSegment, totalRows);
  await forEachRawChunk(rawPath, C, async (values, _firstRow, rows) => {
    const encoded = new Float32Array(rows * C);
    for (let i = 0; i < rows * C; i++) {
      const c = i % C;
      encoded[i] = (values[i]! - shift[c]!) / scale[c]!;
    }
    await writer.write(new Uint8Array(encoded.buffer));
  });
  const segments = await writer.finish();
  const trainRows = seriesEntries.reduce((sum, s) => sum + s.trainRows, 0);
  return {
    ...manifestBase(target, local, data, { total: totalRows, train: trainRows }, seriesEntries, { rowBytes, rowsPerSegment, segments }),
    kind: 'csv',
    csv: { columns, features: [...features], targets: [...targets], seriesBy: seriesBy ?? null, normalization },
  };
}

/** Calls `visit(globalRow)` for the training rows among rows [firstRow, firstRow + rows). */
function forEachTrainingRow(series: readonly SeriesEntry[], firstRow: number, rows: number, visit: (row: number) => void): void {
  const end = firstRow + rows;
  for (const s of series) {
    const from = Math.max(firstRow, s.start);
    const to = Math.min(end, s.start + s.trainRows);
    for (let r = from; r < to; r++) visit(r);
  }
}

async function forEachRawChunk(
  path: string,
  columns: number,
  visit: (values: Float64Array, firstRow: number, rows: number) => void | Promise<void>,
): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const bytes = new Uint8Array(RAW_CHUNK_ROWS * columns * 8);
    let firstRow = 0;
    for (;;) {
      const { bytesRead } = await handle.read(bytes, 0, bytes.byteLength, null);
      if (bytesRead === 0) break;
      const rows = bytesRead / (columns * 8);
      await visit(new Float64Array(bytes.buffer, 0, rows * columns), firstRow, rows);
      firstRow += rows;
    }
  } finally {
    await handle.close();
  }
}
