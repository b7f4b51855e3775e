// The one object-store interface of lstm-runner. Keys are '/'-separated relative paths
// (see keys.ts); every implementation behaves the same for the same keys, so a job can move
// between a local directory and an S3 bucket unchanged.

export type StoreOperation = 'get' | 'getRange' | 'put' | 'head' | 'list' | 'delete' | 'getVersioned' | 'putIfVersion';

/** An object's bytes and a tag that changes with every write of it. */
export interface VersionedObject {
  readonly body: Uint8Array;
  readonly version: string;
}

export interface ObjectStore {
  /** The whole object. Throws ObjectNotFoundError (code 'NotFound') when the key is missing. */
  get(key: string): Promise<Uint8Array>;
  /**
   * Bytes [start, end) of the object (end exclusive). Throws ObjectNotFoundError when the key
   * is missing and a StoreError with code 'InvalidRange' when the object is shorter than end:
   * a short read is never returned as if it were the whole range.
   */
  getRange(key: string, start: number, end: number): Promise<Uint8Array>;
  /** Writes the whole object; readers see the old or the new bytes, never a mix. */
  put(key: string, body: Uint8Array | string): Promise<void>;
  /** The object's size, or null when it is missing. */
  head(key: string): Promise<{ size: number } | null>;
  /** Every key that starts with prefix (a plain string prefix, '' for all), sorted. */
  list(prefix: string): Promise<string[]>;
  /** The object and its version tag, or null when it is missing. */
  getVersioned(key: string): Promise<VersionedObject | null>;
  /**
   * Writes the object only if its version is still `expected` (null: only if it does not
   * exist), as one atomic compare-and-set among everyone who writes it through this call (S3:
   * a conditional PutObject with If-Match / If-None-Match; a directory: a lock file and a
   * rename). True when written, false when the object had changed.
   */
  putIfVersion(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean>;
  /** Removes the object; a missing key is not an error. */
  delete(key: string): Promise<void>;
  /** Releases connections. Idempotent; calls after close fail with code 'Closed'. */
  close(): Promise<void>;
  /** Where the store is (s3://bucket/prefix or file:///dir). Never contains credentials. */
  readonly url: string;
}
