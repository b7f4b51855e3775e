// Where prepare reads a dataset's bytes from. The app opens s3:// sources through the store
// and passes the stream; local files are read straight from disk. Either way prepare works
// on a local file (a stream is spooled to a temporary file first), because it reads the
// bytes more than once: to hash them, then to analyze and to encode them.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { DataError } from './errors/data-error';

export type ByteSource =
  /** `name` is what errors call the source (e.g. the spec's `data.source`). */
  { readonly name: string; readonly path: string } | { readonly name: string; readonly stream: AsyncIterable<Uint8Array> };

/** A local file as a ByteSource, named by its path unless told otherwise. */
export function localFileSource(path: string, name: string = path): ByteSource {
  return { name, path };
}

export interface LocalBytes {
  readonly name: string;
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
}

// 32 KiB: a decoded chunk stays a small string (large ones are collected late).
const READ_CHUNK_BYTES = 1 << 15;

/** A file's bytes as fresh chunks (safe to keep, e.g. by a parser). */
export function readFileChunks(path: string): AsyncIterable<Uint8Array> {
  return createReadStream(path, { highWaterMark: READ_CHUNK_BYTES });
}

/**
 * A file's bytes as chunks in ONE reused buffer: each chunk is valid only until the next is
 * asked for. Passes over a large file then allocate nothing per chunk, which keeps their
 * memory flat (garbage buffers outside the JS heap are collected late).
 */
export async function* readFileChunksReusing(path: string): AsyncIterable<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = new Uint8Array(READ_CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, null);
      if (bytesRead === 0) return;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}

/** Checks that a local file exists and is a file; a DataError naming the source otherwise. */
export async function statSourceFile(path: string, name: string): Promise<number> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const detail = code === 'ENOENT' ? 'file not found' : `cannot read the file (${code ?? String(error)})`;
    throw new DataError(detail, { file: name }, { cause: error });
  }
  if (!info.isFile()) throw new DataError('not a regular file', { file: name });
  return info.size;
}

async function sha256OfChunks(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}

/**
 * The source as a hashed local file: a local path is used in place; a stream is spooled
 * into `spoolDir` (which the caller removes).
 */
export async function toLocalBytes(source: ByteSource, spoolDir: string): Promise<LocalBytes> {
  if ('path' in source) {
    const bytes = await statSourceFile(source.path, source.name);
    return { name: source.name, path: source.path, bytes, sha256: await sha256OfChunks(readFileChunksReusing(source.path)) };
  }
  const { stream } = source;
  const path = join(spoolDir, 'source.bin');
  const hash = createHash('sha256');
  let bytes = 0;
  async function* hashing(): AsyncIterable<Uint8Array> {
    for await (const chunk of stream) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      yield chunk;
    }
  }
  await pipeline(hashing(), createWriteStream(path));
  return { name: source.name, path, bytes, sha256: hash.digest('hex') };
}
