// The local disk cache of dataset segments: cacheDir/<datasetId>/<sha256>.bin, written to a
// temporary name and renamed, shared by every dataset, process and thread that uses the
// directory. Its size has a bound (LSTM_CACHE_MAX_BYTES): after each file it writes, the
// least recently used files of the whole directory go until the rest fits. A file's mtime
// is its last use (a hit touches it), so processes that share the directory share one LRU
// order without talking to each other. The caller verifies what it reads.
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The default bound of a cache directory: 1 GiB, 64 segments of the default 16 MiB. */
export const DEFAULT_CACHE_MAX_BYTES = 1024 * 1024 * 1024;

/** Counters of one reader's segment lookups (a lookup is one segment a batch needs). */
export interface SegmentCacheStats {
  /** Found decoded in memory. */
  memoryHits: number;
  /** Read from the disk cache. */
  diskHits: number;
  /** Fetched from the store. */
  misses: number;
  /** Bytes fetched from the store. */
  bytesFetched: number;
  /** Files this reader removed from the disk cache to keep it within its bound. */
  evictions: number;
}

export function emptyCacheStats(): SegmentCacheStats {
  return { memoryHits: 0, diskHits: 0, misses: 0, bytesFetched: 0, evictions: 0 };
}

/** Hits (memory and disk) over lookups; NaN before the first lookup. */
export function cacheHitRate(stats: SegmentCacheStats): number {
  const hits = stats.memoryHits + stats.diskHits;
  return hits / (hits + stats.misses);
}

export class SegmentDiskCache {
  /** Evictions run one at a time: concurrent ones would each remove what the others remove. */
  private evicting: Promise<void> = Promise.resolve();

  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
    private readonly stats: SegmentCacheStats,
  ) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1)
      throw new RangeError(`the cache's size bound must be a positive integer, got ${maxBytes}`);
  }

  /** The cached file's bytes (touched as just used), or null. */
  async read(datasetId: string, sha256: string): Promise<Uint8Array | null> {
    const path = this.pathOf(datasetId, sha256);
    const bytes = await readFile(path).catch(() => null);
    if (bytes !== null) {
      const now = new Date();
      await utimes(path, now, now).catch(() => undefined); // evicted meanwhile: it was read already
    }
    return bytes;
  }

  /** Caches the bytes, then evicts beyond the bound. A cache that cannot be written only costs a fetch next time. */
  async write(datasetId: string, sha256: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathOf(datasetId, sha256);
    if (bytes.byteLength > this.maxBytes) return;
    const temporary = `${path}.${randomUUID()}.tmp`;
    try {
      await mkdir(join(this.root, datasetId), { recursive: true });
      await writeFile(temporary, bytes);
      await rename(temporary, path);
    } catch {
      await rm(temporary, { force: true });
      return;
    }
    this.evicting = this.evicting.then(() => this.evict(path));
    await this.evicting;
  }

  /** Removes the least recently used files of the directory (never `keep`) until the rest fits the bound. */
  private async evict(keep: string): Promise<void> {
    const files: { path: string; bytes: number; usedMs: number }[] = [];
    const datasets = await readdir(this.root).catch(() => [] as string[]);
    for (const dataset of datasets) {
      const names = await readdir(join(this.root, dataset)).catch(() => [] as string[]);
      for (const name of names) {
        if (!name.endsWith('.bin')) continue;
        const path = join(this.root, dataset, name);
        const info = await stat(path).catch(() => null);
        if (info !== null) files.push({ path, bytes: info.size, usedMs: info.mtimeMs });
      }
    }
    let total = files.reduce((sum, file) => sum + file.bytes, 0);
    files.sort((a, b) => a.usedMs - b.usedMs);
    for (const file of files) {
      if (total <= this.maxBytes) break;
      if (file.path === keep) continue;
      // Gone already (another process evicted it) or removed now: either way it no longer counts.
      if (
        await unlink(file.path).then(
          () => true,
          () => false,
        )
      )
        this.stats.evictions++;
      total -= file.bytes;
    }
  }

  private pathOf(datasetId: string, sha256: string): string {
    return join(this.root, datasetId, `${sha256}.bin`);
  }
}
