// An object store in a local directory: key K is the file DIR/K. Writes go to a temporary
// file in the target's directory and are renamed into place, so readers and crashed writers
// never leave or see a half-written object (atomic against process crashes; there is no
// fsync, so not against power loss).
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ObjectNotFoundError } from './errors/object-not-found-error';
import { assertValidKey, assertValidPrefix, TEMP_FILE_PREFIX } from './keys';
import type { ObjectStore, StoreOperation } from './object-store';
import { asPlainBytes, assertRange, bodyBytes, rangeBeyondObjectError } from './bytes';

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
    // delete() removes directories that became empty; one may vanish between our mkdir and
    // the write, so try again a few times.
    for (let attempt = 1; ; attempt++) {
      await mkdir(directory, { recursive: true });
      try {
        await writeFile(temp, bodyBytes(body), { flag: 'wx' });
        break;
      } catch (error) {
        await rm(temp, { force: true });
        if (errorCode(error) !== 'ENOENT' || attempt >= 3) throw error;
      }
    }
    try {
      await rename(temp, path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
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
