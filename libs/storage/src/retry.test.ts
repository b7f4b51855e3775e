import { describe, expect, it } from 'vitest';
import { StoreError } from './errors/store-error';
import { backoffDelayMs, classifyError, DEFAULT_RETRY_OPTIONS, toStoreError } from './retry';

// Tiny fakes shaped like the errors of the S3 SDK (name, $metadata) and of node:fs / net (code).
function sdkError(name: string, status: number | undefined, message = 'from the service'): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}
function systemError(code: string, syscall = 'connect'): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
}

describe('classifyError', () => {
  it.each([
    [sdkError('InternalError', 500), 'Unavailable'],
    [sdkError('ServiceUnavailable', 503), 'Unavailable'],
    [sdkError('SlowDown', 503), 'Throttled'],
    [sdkError('TooManyRequestsException', 429), 'Throttled'],
    [sdkError('RequestTimeout', 400), 'Timeout'],
    [sdkError('TimeoutError', undefined), 'Timeout'],
    [systemError('ECONNRESET'), 'Unavailable'],
    [systemError('ECONNREFUSED'), 'Unavailable'],
    [systemError('EAI_AGAIN', 'getaddrinfo'), 'Unavailable'],
    [systemError('EMFILE', 'open'), 'Unavailable'],
    [Object.assign(new Error('socket hang up'), { $retryable: {} }), 'Unavailable'],
  ])('treats %s as transient (%s)', (error, code) => {
    expect(classifyError(error)).toMatchObject({ code, transient: true });
  });

  it.each([
    [sdkError('AccessDenied', 403), 'Rejected'],
    [sdkError('NoSuchBucket', 404), 'Rejected'],
    [sdkError('InvalidRange', 416), 'InvalidRange'],
    [systemError('EACCES', 'open'), 'Failed'],
    [systemError('ENOSPC', 'write'), 'Failed'],
    [new TypeError('a bug'), 'Failed'],
    ['a string', 'Failed'],
  ])('treats %s as permanent (%s)', (error, code) => {
    expect(classifyError(error)).toMatchObject({ code, transient: false });
  });

  it('keeps a StoreError as it is', () => {
    const error = new StoreError({ operation: 'get', key: 'k', storeUrl: 'file:///s', code: 'Timeout', transient: true, detail: 'slow' });
    expect(toStoreError(error, 'put', 'other', 'file:///t')).toBe(error);
    expect(classifyError(error)).toEqual({ code: 'Timeout', transient: true, detail: 'slow' });
  });

  it('describes SDK errors by name, status and message only, and never attaches them', () => {
    const error = Object.assign(sdkError('AccessDenied', 403, 'Access Denied'), { AWSAccessKeyId: 'AKIAFAKEFAKEFAKE1234' });
    const storeError = toStoreError(error, 'put', 'jobs/a', 's3://b/p');
    expect(storeError.message).toBe("put 'jobs/a' in s3://b/p failed: AccessDenied (HTTP 403): Access Denied");
    expect(storeError.cause).toBeUndefined();
    expect(JSON.stringify(storeError) + String(storeError)).not.toContain('AKIA');
  });

  it('attaches node:fs errors as the cause', () => {
    const error = systemError('EACCES', 'open');
    expect(toStoreError(error, 'get', 'k', 'file:///s').cause).toBe(error);
  });
});

describe('backoffDelayMs', () => {
  const options = { ...DEFAULT_RETRY_OPTIONS, baseDelayMs: 100, maxDelayMs: 1000 };

  it('doubles per attempt with equal jitter, up to the cap', () => {
    expect(backoffDelayMs(1, options, () => 0)).toBe(50);
    expect(backoffDelayMs(1, options, () => 0.999999)).toBeCloseTo(100, 3);
    expect(backoffDelayMs(2, options, () => 0)).toBe(100);
    expect(backoffDelayMs(3, options, () => 0.5)).toBe(300);
    expect(backoffDelayMs(10, options, () => 0)).toBe(500);
    expect(backoffDelayMs(10, options, () => 0.999999)).toBeCloseTo(1000, 3);
  });
});
