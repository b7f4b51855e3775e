// An object store in a local directory: key K is the file DIR/K. Writes go to a temporary
// file in the target's directory and are renamed into place, so readers and crashed writers
// never leave or see a half-written object (atomic against process crashes; there is no
// fsync, so not against power loss).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ObjectNotFoundError } from './errors/object-not-found-error';
import { assertValidKey, assertValidPrefix, TEMP_FILE_PREFIX } from './keys';
import { sha256Hex } from './checksum';
import type { ObjectStore, StoreOperation, VersionedObject } from './object-store';
import { asPlainBytes, assertRange, bodyBytes, rangeBeyondObjectError } from './bytes';

/**
 * delete() removes directories that became empty, so a put's directory may vanish between
 * its mkdir and its write; with many puts and deletes in one directory on a busy machine
 * that can happen several times in a row.
 */
const MKDIR_ATTEMPTS = 10;

/** A compare-and-set holds its lock for a read and a write: one held longer was left by a writer that died. */
const LOCK_STALE_MS = 30_000;
/** How long a compare-and-set waits for another one's lock. */
const LOCK_WAIT_MS = 60_000;

/** Errors that mean "no such object": a missing file or directory, or a directory in its place. */
const MISSING_CODES = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' ? error.code : undefined;
}

export class LocalStore implements ObjectStore {
  readonly url: string;

  /** root: an absolute directory; it is created by the first put. */
  constructor(private readonly root: string) {
    this.url = pathToFileURL(root).href;
  }

  async get(key: string): Promise<Uint8Array> {
    const path = this.pathOf('get', key);
    try {
      return asPlainBytes(await readFile(path));
    } catch (error) {
      throw this.missingOr(error, 'get', key);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const path = this.pathOf('getRange', key);
    assertRange(key, start, end, this.url);
    let file;
    try {
      file = await open(path, 'r');
    } catch (error) {
      throw this.missingOr(error, 'getRange', key);
    }
    try {
      const { size } = await file.stat();
      if (end > size) throw rangeBeyondObjectError(key, start, end, size, this.url);
      const bytes = new Uint8Array(end - start);
      let filled = 0;
      while (filled < bytes.length) {
        const { bytesRead } = await file.read(bytes, filled, bytes.length - filled, start + filled);
        // The file shrank under us (it is replaced by rename, so this is a truncated file).
        if (bytesRead === 0) throw rangeBeyondObjectError(key, start, end, start + filled, this.url);
        filled += bytesRead;
      }
      return bytes;
    } finally {
      await file.close();
    }
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const path = this.pathOf('put', key);
    const directory = dirname(path);
    const temp = join(directory, `${TEMP_FILE_PREFIX}${randomBytes(8).toString('hex')}`);
    for (let attempt = 1; ; attempt++) {
      await mkdir(directory, { recursive: true });
      try {
        await writeFile(temp, bodyBytes(body), { flag: 'wx' });
        break;
      } catch (error) {
        await rm(temp, { force: true });
        if (errorCode(error) !== 'ENOENT' || attempt >= MKDIR_ATTEMPTS) throw error;
      }
    }
    try {
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  async getVersioned(key: string): Promise<VersionedObject | null> {
    const path = this.pathOf('getVersioned', key);
    try {
      const body = asPlainBytes(await readFile(path));
      return { body, version: sha256Hex(body) };
    } catch (error) {
      if (MISSING_CODES.has(errorCode(error) ?? '')) return null;
      throw error;
    }
  }

  async putIfVersion(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean> {
    const path = this.pathOf('putIfVersion', key);
    const release = await this.lock(path);
    try {
      const current = await this.getVersioned(key);
      if ((current?.version ?? null) !== expected) return false;
      await this.put(key, body);
      return true;
    } finally {
      await release();
    }
  }

  /**
   * An exclusive lock on the object at path: a lock file created with O_EXCL next to it. A
   * lock older than LOCK_STALE_MS belongs to a writer that died holding it and is broken.
   */
  private async lock(path: string): Promise<() => Promise<void>> {
    const directory = dirname(path);
    const lockPath = join(directory, `${TEMP_FILE_PREFIX}lock-${basename(path)}`);
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      await mkdir(directory, { recursive: true });
      try {
        await writeFile(lockPath, String(process.pid), { flag: 'wx' });
        return () => rm(lockPath, { force: true });
      } catch (error) {
        if (errorCode(error) !== 'EEXIST') throw error;
      }
      const held = await stat(lockPath).catch(() => null);
      if (held !== null && Date.now() - held.mtimeMs > LOCK_STALE_MS) await rm(lockPath, { force: true });
      if (Date.now() > deadline) throw new Error(`${this.url}: could not lock ${basename(path)} within ${LOCK_WAIT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 8));
    }
  }

  async head(key: string): Promise<{ size: number } | null> {
    const path = this.pathOf('head', key);
    try {
      const stats = await stat(path);
      return stats.isFile() ? { size: stats.size } : null;
    } catch (error) {
      if (MISSING_CODES.has(errorCode(error) ?? '')) return null;
      throw error;
    }
  }

  async list(prefix: string): Promise<string[]> {
    assertValidPrefix(prefix, this.url);
    // Walk only the deepest directory the prefix names; its last, partial segment filters.
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    const keys: string[] = [];
    await this.walk(base, prefix, keys);
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf('delete', key);
    try {
      await unlink(path);
    } catch (error) {
      if (MISSING_CODES.has(errorCode(error) ?? '')) return;
      throw error;
    }
    await this.removeEmptyDirectories(dirname(path));
  }

  async close(): Promise<void> {
    // Nothing to release: every call opens and closes its own files.
  }

  /** Adds the keys under directory keyDirectory ('' or ending in '/') that start with prefix. */
  private async walk(keyDirectory: string, prefix: string, keys: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(join(this.root, keyDirectory), { withFileTypes: true });
    } catch (error) {
      if (MISSING_CODES.has(errorCode(error) ?? '')) return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(TEMP_FILE_PREFIX)) continue;
      const key = keyDirectory + entry.name;
      if (entry.isDirectory()) {
        const below = `${key}/`;
        if (below.startsWith(prefix) || prefix.startsWith(below)) await this.walk(below, prefix, keys);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        keys.push(key);
      }
    }
  }

  /** Removes directory and its parents while they are empty, never the root. */
  private async removeEmptyDirectories(directory: string): Promise<void> {
    for (let current = directory; current.startsWith(this.root + sep); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch (error) {
        // Not empty: neither are its parents. Already gone: a concurrent delete got there first.
        if (errorCode(error) !== 'ENOENT') return;
      }
    }
  }

  private pathOf(operation: StoreOperation, key: string): string {
    assertValidKey(operation, key, this.url);
    return join(this.root, ...key.split('/'));
  }

  private missingOr(error: unknown, operation: StoreOperation, key: string): unknown {
    return MISSING_CODES.has(errorCode(error) ?? '') ? new ObjectNotFoundError(operation, key, this.url) : error;
  }
}
