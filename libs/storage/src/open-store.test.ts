import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StoreConfigError } from './errors/store-config-error';
import { openStore, parseStoreUrl, resolveStoreOptions } from './open-store';
import { DEFAULT_RETRY_OPTIONS } from './retry';

describe('parseStoreUrl', () => {
  it('reads s3 URLs into a bucket and a prefix ending in /', () => {
    expect(parseStoreUrl('s3://my-bucket')).toEqual({ kind: 's3', s3: { bucket: 'my-bucket', prefix: '' } });
    expect(parseStoreUrl('s3://my-bucket/')).toEqual({ kind: 's3', s3: { bucket: 'my-bucket', prefix: '' } });
    expect(parseStoreUrl('s3://my-bucket/runs/a/')).toEqual({ kind: 's3', s3: { bucket: 'my-bucket', prefix: 'runs/a/' } });
  });

  it('reads file URLs and plain paths into absolute directories', () => {
    expect(parseStoreUrl('file:///var/lstm/')).toEqual({ kind: 'local', root: '/var/lstm' });
    expect(parseStoreUrl('relative/dir')).toEqual({ kind: 'local', root: resolve('relative/dir') });
    expect(parseStoreUrl('/abs/dir')).toEqual({ kind: 'local', root: '/abs/dir' });
  });

  it.each([
    ['', 'empty'],
    ['gs://bucket/x', "scheme 'gs'"],
    ['s3://B/x', 'bucket name'],
    ['s3://bucket/a/../b', "'..'"],
    ['file://host/dir', 'file:///absolute/dir'],
  ])('rejects %j', (url, problem) => {
    expect(() => parseStoreUrl(url)).toThrow(StoreConfigError);
    expect(() => parseStoreUrl(url)).toThrow(problem);
  });

  it('refuses credentials in URLs without repeating them', () => {
    for (const url of ['s3://AKIAFAKE:s3cr3t@bucket/p', 'https://user:s3cr3t@example.com/x']) {
      const error = (() => {
        try {
          return parseStoreUrl(url);
        } catch (e) {
          return e as Error;
        }
      })();
      expect(error).toBeInstanceOf(StoreConfigError);
      expect(String(error)).not.toContain('s3cr3t');
    }
    expect(() => resolveStoreOptions({ endpoint: 'http://user:s3cr3t@127.0.0.1:9000', env: {} })).toThrow(/must not carry credentials/);
  });
});

describe('resolveStoreOptions', () => {
  it('merges defaults, env and options; undefined keeps the default', () => {
    const resolved = resolveStoreOptions({ attempts: undefined, timeoutMs: 5000, env: { S3_ENDPOINT: 'http://127.0.0.1:9000' } });
    expect(resolved).toMatchObject({
      ...DEFAULT_RETRY_OPTIONS,
      timeoutMs: 5000,
      endpoint: 'http://127.0.0.1:9000',
      forcePathStyle: true,
      region: 'us-east-1',
      listPageSize: 1000,
      faults: undefined,
    });
    expect(resolveStoreOptions({ env: { AWS_REGION: 'eu-west-1' } })).toMatchObject({
      region: 'eu-west-1',
      endpoint: undefined,
      forcePathStyle: false,
    });
  });

  it.each([
    [{ attempts: 0 }, 'attempts'],
    [{ attempts: 1.5 }, 'attempts'],
    [{ baseDelayMs: -1 }, 'baseDelayMs'],
    [{ baseDelayMs: 100, maxDelayMs: 50 }, 'maxDelayMs'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ listPageSize: 1001 }, 'listPageSize'],
    [{ endpoint: 'ftp://host' }, 'http://'],
  ])('rejects %j', (options, problem) => {
    expect(() => resolveStoreOptions({ ...options, env: {} })).toThrow(StoreConfigError);
    expect(() => resolveStoreOptions({ ...options, env: {} })).toThrow(problem);
  });

  it('gives S3 stores an s3:// url without endpoint or credentials', async () => {
    const store = openStore('s3://bucket/runs/', {
      env: {},
      endpoint: 'http://127.0.0.1:1',
      credentials: { accessKeyId: 'AKIAFAKEFAKEFAKE1234', secretAccessKey: 's3cr3t' },
    });
    expect(store.url).toBe('s3://bucket/runs');
    await store.close();
  });
});
