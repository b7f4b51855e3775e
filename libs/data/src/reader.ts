// Reading a packed dataset: the manifest once, then only the segments a batch touches. Each
// segment is checked against its sha256 before use, whether it comes from the store or from
// the local disk cache (segment-cache.ts: cacheDir/<datasetId>/<sha256>.bin, bounded, least
// recently used out first); a bad cache file is fetched again, a bad object in the store is
// a DatasetIntegrityError. Decoded segments stay in memory up to a byte budget (least
// recently used out first). The reader counts its lookups: memory hits, disk hits, fetches.
import { createHash } from 'node:crypto';
import { endianness } from 'node:os';
import type { Batch } from '@lstm-runner/lstm-core';
import type { WindowSettings } from './data-spec';
import type { ObjectStore } from '@lstm-runner/storage';
import { DatasetIntegrityError } from './errors/dataset-integrity-error';
import { datasetPrefix, loadManifest, type DatasetManifest, type SegmentEntry } from './manifest';
import { DEFAULT_CACHE_MAX_BYTES, emptyCacheStats, SegmentDiskCache, type SegmentCacheStats } from './segment-cache';
import { WindowLayout, type Split } from './windows';

export interface OpenDatasetOptions {
  /** Local directory for verified segment copies; shared by every dataset and process. */
  readonly cacheDir: string;
  readonly window: WindowSettings;
  /** Decoded segments kept in memory; default 256 MiB (at least one segment is always kept). */
  readonly memoryBytes?: number;
  /** The bound of cacheDir on disk (every dataset in it); default 1 GiB (LSTM_CACHE_MAX_BYTES in the apps). */
  readonly cacheMaxBytes?: number;
}

type RowArray = Uint8Array | Uint16Array | Int32Array | Float32Array;

export async function openDataset(store: ObjectStore, datasetId: string, options: OpenDatasetOptions): Promise<DatasetReader> {
  return new DatasetReader(store, await loadManifest(store, datasetId), options);
}

export class DatasetReader {
  readonly manifest: DatasetManifest;
  readonly layout: WindowLayout;
  private readonly store: ObjectStore;
  private readonly diskCache: SegmentDiskCache;
  private readonly memoryBytes: number;
  private readonly stats = emptyCacheStats();
  /** Insertion order = least recently used first. */
  private readonly segments = new Map<number, Promise<RowArray>>();
  /** Row width in elements of the row array: 1 token, or C floats. */
  private readonly width: number;
  private readonly featureColumns: readonly number[] = [];
  private readonly targetColumns: readonly number[] = [];

  constructor(store: ObjectStore, manifest: DatasetManifest, options: OpenDatasetOptions) {
    if (endianness() !== 'LE') throw new Error('packed datasets are little-endian; this machine is big-endian');
    this.store = store;
    this.manifest = manifest;
    this.layout = new WindowLayout(manifest.series, options.window, manifest.source.name);
    this.diskCache = new SegmentDiskCache(options.cacheDir, options.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES, this.stats);
    this.memoryBytes = options.memoryBytes ?? 256 * 1024 * 1024;
    if (manifest.kind === 'csv') {
      const { columns, features, targets } = manifest.csv;
      this.width = columns.length;
      this.featureColumns = features.map((name) => columns.indexOf(name));
      this.targetColumns = targets.map((name) => columns.indexOf(name));
    } else {
      this.width = 1;
    }
  }

  /** The counters of this reader's segment lookups so far (a copy). */
  cacheStats(): SegmentCacheStats {
    return { ...this.stats };
  }

  /** Indices of the segments that windows of `split` touch (inputs and targets). */
  segmentsFor(windowIndices: ArrayLike<number>, split: Split): number[] {
    const needed = new Set<number>();
    const perSegment = this.manifest.rowsPerSegment;
    for (let w = 0; w < windowIndices.length; w++) {
      const { first, target } = this.layout.rowsOf(split, windowIndices[w]!);
      for (let s = Math.floor(first / perSegment); s <= Math.floor((first + this.layout.window.lookBack - 1) / perSegment); s++)
        needed.add(s);
      needed.add(Math.floor(target / perSegment));
    }
    return [...needed].sort((a, b) => a - b);
  }

  /**
   * The batch of these windows, in the shape lstm-core takes: text -> tokens [B*T] (the
   * lookBack input tokens) and classes [B] (the token of the target row); CSV -> features
   * [B,T,I] and targets [B,K], normalized. T = lookBack.
   */
  async assembleBatch(windowIndices: ArrayLike<number>, split: Split): Promise<Batch<Float32Array>> {
    const segmentIndices = this.segmentsFor(windowIndices, split);
    const loaded = new Map<number, RowArray>();
    await Promise.all(segmentIndices.map(async (index) => loaded.set(index, await this.segment(index))));
    const B = windowIndices.length;
    const T = this.layout.window.lookBack;
    const perSegment = this.manifest.rowsPerSegment;
    const rowsAt = (row: number): { rows: RowArray; offset: number } => {
      const index = Math.floor(row / perSegment);
      return { rows: loaded.get(index)!, offset: (row - index * perSegment) * this.width };
    };

    if (this.manifest.kind === 'text') {
      const tokens = new Int32Array(B * T);
      const classes = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        const { first, target } = this.layout.rowsOf(split, windowIndices[b]!);
        // Copy the input rows a segment-sized run at a time.
        let row = first;
        while (row < first + T) {
          const { rows, offset } = rowsAt(row);
          const n = Math.min(first + T - row, rows.length - offset);
          tokens.set(rows.subarray(offset, offset + n), b * T + (row - first));
          row += n;
        }
        const at = rowsAt(target);
        classes[b] = at.rows[at.offset]!;
      }
      return { B, T, tokens, classes };
    }

    const I = this.featureColumns.length;
    const K = this.targetColumns.length;
    const features = new Float32Array(B * T * I);
    const targets = new Float32Array(B * K);
    for (let b = 0; b < B; b++) {
      const { first, target } = this.layout.rowsOf(split, windowIndices[b]!);
      for (let t = 0; t < T; t++) {
        const { rows, offset } = rowsAt(first + t);
        const out = (b * T + t) * I;
        for (let i = 0; i < I; i++) features[out + i] = rows[offset + this.featureColumns[i]!]!;
      }
      const { rows, offset } = rowsAt(target);
      for (let k = 0; k < K; k++) targets[b * K + k] = rows[offset + this.targetColumns[k]!]!;
    }
    return { B, T, features, targets };
  }

  /**
   * Rows [first, end) of the row array, as stored: text -> token ids [rows]; CSV -> the
   * stored columns (manifest.csv.columns), normalized, [rows, C].
   */
  async rowRange(first: number, end: number): Promise<Int32Array | Float32Array> {
    const total = this.manifest.series.reduce((rows, s) => Math.max(rows, s.start + s.rows), 0);
    if (!Number.isInteger(first) || !Number.isInteger(end) || first < 0 || end < first || end > total) {
      throw new RangeError(`rows [${first}, ${end}) are not in the dataset's ${total} rows`);
    }
    const out = this.manifest.kind === 'text' ? new Int32Array(end - first) : new Float32Array((end - first) * this.width);
    const perSegment = this.manifest.rowsPerSegment;
    for (let row = first; row < end;) {
      const index = Math.floor(row / perSegment);
      const rows = await this.segment(index);
      const offset = (row - index * perSegment) * this.width;
      const n = Math.min(end - row, rows.length / this.width - (row - index * perSegment));
      out.set(rows.subarray(offset, offset + n * this.width), (row - first) * this.width);
      row += n;
    }
    return out;
  }

  private segment(index: number): Promise<RowArray> {
    let loading = this.segments.get(index);
    if (loading !== undefined) {
      this.stats.memoryHits++;
      this.segments.delete(index);
    } else {
      const entry = this.manifest.segments[index];
      if (entry === undefined) return Promise.reject(new RangeError(`segment ${index} does not exist`));
      loading = this.fetchSegment(entry).then((bytes) => this.rowArray(bytes));
      loading.catch(() => this.segments.delete(index));
    }
    this.segments.set(index, loading);
    const keep = Math.max(1, Math.floor(this.memoryBytes / (this.manifest.rowsPerSegment * this.manifest.rowBytes)));
    for (const oldest of this.segments.keys()) {
      if (this.segments.size <= keep) break;
      this.segments.delete(oldest);
    }
    return loading;
  }

  private async fetchSegment(entry: SegmentEntry): Promise<Uint8Array> {
    const { datasetId } = this.manifest;
    const cached = await this.diskCache.read(datasetId, entry.sha256);
    if (cached !== null && isIntact(cached, entry)) {
      this.stats.diskHits++;
      return cached;
    }
    this.stats.misses++;
    const key = `${datasetPrefix(datasetId)}${entry.name}`;
    const bytes = await this.store.get(key);
    this.stats.bytesFetched += bytes.byteLength;
    if (bytes.byteLength !== entry.bytes) {
      throw new DatasetIntegrityError(key, `size ${bytes.byteLength} bytes, the manifest says ${entry.bytes}`);
    }
    if (!isIntact(bytes, entry)) throw new DatasetIntegrityError(key, 'sha256 does not match the manifest: the segment is corrupt');
    await this.diskCache.write(datasetId, entry.sha256, bytes);
    return bytes;
  }

  private rowArray(bytes: Uint8Array): RowArray {
    // Typed views need aligned offsets; a Buffer from the disk may not be.
    const aligned = bytes.byteOffset % 4 === 0 ? bytes : new Uint8Array(bytes);
    const { buffer, byteOffset, byteLength } = aligned;
    if (this.manifest.kind === 'csv') return new Float32Array(buffer, byteOffset, byteLength / 4);
    switch (this.manifest.text.tokenType) {
      case 'uint8':
        return new Uint8Array(buffer, byteOffset, byteLength);
      case 'uint16':
        return new Uint16Array(buffer, byteOffset, byteLength / 2);
      case 'int32':
        return new Int32Array(buffer, byteOffset, byteLength / 4);
    }
  }
}

function isIntact(bytes: Uint8Array, entry: SegmentEntry): boolean {
  return bytes.byteLength === entry.bytes && createHash('sha256').update(bytes).digest('hex') === entry.sha256;
}
