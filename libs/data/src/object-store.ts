// The object store as libs/data sees it. libs/storage implements exactly this interface;
// libs/data never talks to S3 itself.
export interface ObjectStore {
  /** Throws an error with code 'NotFound' when the key is missing. */
  get(key: string): Promise<Uint8Array>;
  /** Bytes [start, end) of the object. */
  getRange(key: string, start: number, end: number): Promise<Uint8Array>;
  put(key: string, body: Uint8Array | string): Promise<void>;
  head(key: string): Promise<{ size: number } | null>;
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
  readonly url: string;
}
