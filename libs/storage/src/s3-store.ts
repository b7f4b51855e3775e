// An object store in an S3 bucket (AWS or a compatible server: MinIO, s3rver) under a key
// prefix. One attempt per call: retries and their backoff belong to RetryingStore, so the
// SDK's own retries are off. Checksum calculation and validation are 'WHEN_REQUIRED': with
// the SDK's default, S3-compatible servers store the aws-chunked framing as the object's
// bytes (silent corruption) or reject the request; our checksums live in manifests instead.
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { asPlainBytes, assertRange, bodyBytes, rangeBeyondObjectError } from './bytes';
import { ObjectNotFoundError } from './errors/object-not-found-error';
import { assertValidKey, assertValidPrefix } from './keys';
import type { ObjectStore, StoreOperation, VersionedObject } from './object-store';

export interface S3Location {
  readonly bucket: string;
  /** '' or ending in '/'. */
  readonly prefix: string;
}

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface S3StoreOptions {
  /** e.g. http://127.0.0.1:9000; undefined: AWS. */
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly forcePathStyle: boolean;
  /** undefined: the SDK's standard chain (env, shared files, SSO, container and instance roles). */
  readonly credentials: S3Credentials | undefined;
  /** Keys per ListObjectsV2 page (at most 1000). */
  readonly listPageSize: number;
  /** Bounds one HTTP request, so a hung connection is torn down, not just abandoned. */
  readonly requestTimeoutMs: number;
}

function isMissing(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: unknown } };
  // HEAD answers carry no body, so a missing key there is only a bare 404 named 'NotFound'.
  return name === 'NoSuchKey' || name === 'NotFound' || ($metadata?.httpStatusCode === 404 && name !== 'NoSuchBucket');
}

export class S3Store implements ObjectStore {
  readonly url: string;
  private readonly client: S3Client;
  private closed = false;

  constructor(
    private readonly location: S3Location,
    private readonly options: S3StoreOptions,
  ) {
    this.url = `s3://${location.bucket}${location.prefix === '' ? '' : `/${location.prefix.slice(0, -1)}`}`;
    this.client = new S3Client({
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      ...(options.credentials === undefined ? {} : { credentials: options.credentials }),
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: options.requestTimeoutMs,
        requestTimeout: options.requestTimeoutMs,
        throwOnRequestTimeout: true,
      },
    });
  }

  async get(key: string): Promise<Uint8Array> {
    const Key = this.objectKey('get', key);
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key }));
      return answer.Body === undefined ? new Uint8Array(0) : asPlainBytes(await answer.Body.transformToByteArray());
    } catch (error) {
      throw this.missingOr(error, 'get', key);
    }
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    const Key = this.objectKey('getRange', key);
    assertRange(key, start, end, this.url);
    // An empty range has no Range header; only existence and size need checking.
    if (start === end) {
      const found = await this.headObject(Key);
      if (found === null) throw new ObjectNotFoundError('getRange', key, this.url);
      if (end > found.size) throw rangeBeyondObjectError(key, start, end, found.size, this.url);
      return new Uint8Array(0);
    }
    let bytes: Uint8Array;
    try {
      const answer = await this.client.send(
        new GetObjectCommand({ Bucket: this.location.bucket, Key, Range: `bytes=${start}-${end - 1}` }),
      );
      bytes = answer.Body === undefined ? new Uint8Array(0) : asPlainBytes(await answer.Body.transformToByteArray());
    } catch (error) {
      throw this.missingOr(error, 'getRange', key);
    }
    // S3 answers a range that starts inside the object but ends past it with the bytes it has.
    if (bytes.length !== end - start) throw rangeBeyondObjectError(key, start, end, start + bytes.length, this.url);
    return bytes;
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const Key = this.objectKey('put', key);
    const bytes = bodyBytes(body);
    await this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key, Body: bytes, ContentLength: bytes.length }));
  }

  async getVersioned(key: string): Promise<VersionedObject | null> {
    const Key = this.objectKey('getVersioned', key);
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key }));
      const body = answer.Body === undefined ? new Uint8Array(0) : asPlainBytes(await answer.Body.transformToByteArray());
      return { body, version: answer.ETag ?? '' };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async putIfVersion(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean> {
    const Key = this.objectKey('putIfVersion', key);
    const bytes = bodyBytes(body);
    const condition = expected === null ? { IfNoneMatch: '*' } : { IfMatch: expected };
    try {
      await this.client.send(
        new PutObjectCommand({ Bucket: this.location.bucket, Key, Body: bytes, ContentLength: bytes.length, ...condition }),
      );
      return true;
    } catch (error) {
      // 412: the object changed (or exists); 409: another conditional write to it is in flight.
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 412 || status === 409) return false;
      throw error;
    }
  }

  head(key: string): Promise<{ size: number } | null> {
    return this.headObject(this.objectKey('head', key));
  }

  async list(prefix: string): Promise<string[]> {
    assertValidPrefix(prefix, this.url);
    const keys: string[] = [];
    // ListObjects (v1) paged by Marker = the last key seen: s3rver cannot page ListObjectsV2
    // on Node >= 17 (its continuation tokens use DES, which OpenSSL 3 refuses: HTTP 500 on
    // every truncated page). AWS, MinIO and the others serve v1 as well.
    let marker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListObjectsCommand({
          Bucket: this.location.bucket,
          Prefix: this.location.prefix + prefix,
          MaxKeys: this.options.listPageSize,
          Marker: marker,
        }),
      );
      const pageKeys = (page.Contents ?? []).flatMap((object) => (object.Key === undefined ? [] : [object.Key]));
      for (const key of pageKeys) keys.push(key.slice(this.location.prefix.length));
      marker = pageKeys.at(-1);
      if (page.IsTruncated !== true || marker === undefined) break;
    }
    // S3 sorts by UTF-8 bytes; sort again so every store lists in the same (UTF-16) order.
    return keys.sort();
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey('delete', key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.location.bucket, Key }));
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.destroy();
  }

  private async headObject(Key: string): Promise<{ size: number } | null> {
    try {
      const answer = await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key }));
      return { size: answer.ContentLength ?? 0 };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  private objectKey(operation: StoreOperation, key: string): string {
    assertValidKey(operation, key, this.url);
    return this.location.prefix + key;
  }

  private missingOr(error: unknown, operation: StoreOperation, key: string): unknown {
    return isMissing(error) ? new ObjectNotFoundError(operation, key, this.url) : error;
  }
}
