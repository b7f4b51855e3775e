// Fault injection driven from outside a running process (the soak, docs/operations.md): when
// LSTM_INJECT_STORE_FAULTS_FILE names a file, openStore wraps its store (inside the retries)
// in a FileControlledFaults, which looks at that file at most every checkEveryMs and, each
// time its content changes, arms the FaultPlan it holds (the JSON of LSTM_INJECT_STORE_FAULTS).
// A missing or empty file injects nothing. A driver writes the file (atomically: a temporary
// file and a rename) to start a burst of store errors in every process at once, e.g.
//   {"startsAtMs": 1767000000000, "failForMs": 1500, "log": true}
// Off by default: without the variable no store is wrapped.
import { readFile } from 'node:fs/promises';
import { StoreConfigError } from './errors/store-config-error';
import { validateFaultPlan, withFaults, type FaultyStore } from './faults';
import type { ObjectStore, VersionedObject } from './object-store';

export const INJECT_STORE_FAULTS_FILE_ENV = 'LSTM_INJECT_STORE_FAULTS_FILE';

/** How often the control file is read at most: a burst starts within this of being written. */
export const FAULT_FILE_CHECK_MS = 50;

/** The control file env[INJECT_STORE_FAULTS_FILE_ENV] names, or undefined when it is unset or empty. */
export function faultFileFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const path = env[INJECT_STORE_FAULTS_FILE_ENV];
  return path === undefined || path.trim() === '' ? undefined : path;
}

export class FileControlledFaults implements ObjectStore {
  /** The file's text the armed plan came from ('' for none). */
  private text = '';
  private armed: FaultyStore | undefined;
  private checkedAt = -Infinity;
  private checking: Promise<void> | undefined;
  /** The text of an unusable plan already reported, so it is said once. */
  private reported = '';

  constructor(
    private readonly inner: ObjectStore,
    private readonly path: string,
    private readonly checkEveryMs = FAULT_FILE_CHECK_MS,
  ) {}

  get url(): string {
    return this.inner.url;
  }

  /** Faults the plans armed so far injected (the current one's count). */
  get injectedFaults(): number {
    return this.armed?.injectedFaults ?? 0;
  }

  async get(key: string): Promise<Uint8Array> {
    return (await this.current()).get(key);
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    return (await this.current()).getRange(key, start, end);
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    return (await this.current()).put(key, body);
  }

  async getVersioned(key: string): Promise<VersionedObject | null> {
    return (await this.current()).getVersioned(key);
  }

  async putIfVersion(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean> {
    return (await this.current()).putIfVersion(key, body, expected);
  }

  async head(key: string): Promise<{ size: number } | null> {
    return (await this.current()).head(key);
  }

  async list(prefix: string): Promise<string[]> {
    return (await this.current()).list(prefix);
  }

  async delete(key: string): Promise<void> {
    return (await this.current()).delete(key);
  }

  async close(): Promise<void> {
    this.armed?.endHangs();
    await this.inner.close();
  }

  /** The store a call goes to: the armed plan's wrapper, or the inner store. */
  private async current(): Promise<ObjectStore> {
    if (performance.now() - this.checkedAt >= this.checkEveryMs) {
      this.checking ??= this.check().finally(() => {
        this.checkedAt = performance.now();
        this.checking = undefined;
      });
      await this.checking;
    }
    return this.armed ?? this.inner;
  }

  private async check(): Promise<void> {
    const text = (await readFile(this.path, 'utf8').catch(() => '')).trim();
    if (text === this.text) return;
    this.text = text;
    this.armed?.endHangs();
    this.armed = undefined;
    if (text === '') return;
    try {
      this.armed = withFaults(this.inner, validateFaultPlan(JSON.parse(text)));
    } catch (error) {
      // A running process cannot refuse to start: it says so once and injects nothing.
      if (this.reported === text) return;
      this.reported = text;
      const problem = error instanceof StoreConfigError ? error.message : `not valid JSON: ${(error as Error).message}`;
      process.stderr.write(`lstm-store-faults: ignored ${this.path}: ${problem}\n`);
    }
  }
}
