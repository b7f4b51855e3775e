// Which failures are worth another attempt, and how long to wait before it. Network errors,
// 5xx answers, throttling and timeouts are transient; a missing key and other 4xx answers
// are not (retrying them only delays the error).
import { StoreError, type StoreErrorCode } from './errors/store-error';
import type { StoreOperation } from './object-store';

export interface RetryOptions {
  /** Attempts per call, the first one included. */
  attempts: number;
  /** Backoff before the second attempt; doubles per attempt, with jitter. */
  baseDelayMs: number;
  /** Upper bound of one backoff. */
  maxDelayMs: number;
  /** One attempt of one call (a whole list, all pages) gives up after this. */
  timeoutMs: number;
  /**
   * The whole call, every attempt and backoff included, gives up after this: a hung store
   * costs a caller at most this long, however many attempts are left.
   */
  budgetMs: number;
}

// Six attempts wait 3 to 6 s in all: long enough to ride out a restarting S3 endpoint or a
// throttling burst, short enough that a dead store fails the shard while BullMQ can still retry.
export const DEFAULT_RETRY_OPTIONS: RetryOptions = {
  attempts: 6,
  baseDelayMs: 200,
  maxDelayMs: 10_000,
  timeoutMs: 60_000,
  budgetMs: 120_000,
};

/**
 * Backoff before attempt `failedAttempts + 1`: exponential, capped, with "equal jitter" (half
 * fixed, half random) so that workers failing together do not retry together, yet every wait
 * still grows. random returns values in [0, 1).
 */
export function backoffDelayMs(failedAttempts: number, options: RetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (failedAttempts - 1));
  return ceiling / 2 + random() * (ceiling / 2);
}

export interface ErrorClass {
  readonly code: StoreErrorCode;
  readonly transient: boolean;
  /** One line, safe to log: name, status and message, never the error's other properties. */
  readonly detail: string;
}

const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
/** Local file-system errors that go away by themselves. */
const BUSY_ERROR_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE']);
const THROTTLING_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
]);
const TIMEOUT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

function describe(error: ErrorLike, status: number | undefined): string {
  const name = typeof error.name === 'string' ? error.name : 'Error';
  const code = typeof error.code === 'string' && error.code !== name ? ` ${error.code}` : '';
  const http = status === undefined ? '' : ` (HTTP ${status})`;
  const message = typeof error.message === 'string' && error.message !== '' ? `: ${error.message}` : '';
  return `${name}${code}${http}${message}`.slice(0, 500);
}

/** Sorts any error thrown by a store backend (S3 SDK, node:fs, network) into a StoreError class. */
export function classifyError(error: unknown): ErrorClass {
  if (error instanceof StoreError) return { code: error.code, transient: error.transient, detail: error.detail };
  if (typeof error !== 'object' || error === null) {
    return { code: 'Failed', transient: false, detail: String(error).slice(0, 500) };
  }
  const like = error as ErrorLike;
  const rawStatus = like.$metadata?.httpStatusCode;
  const status = typeof rawStatus === 'number' ? rawStatus : undefined;
  const name = typeof like.name === 'string' ? like.name : '';
  const code = typeof like.code === 'string' ? like.code : '';
  const detail = describe(like, status);
  if (THROTTLING_NAMES.has(name) || status === 429) return { code: 'Throttled', transient: true, detail };
  if (TIMEOUT_NAMES.has(name) || status === 408) return { code: 'Timeout', transient: true, detail };
  if (name === 'InvalidRange' || status === 416) return { code: 'InvalidRange', transient: false, detail };
  if (NETWORK_ERROR_CODES.has(code) || BUSY_ERROR_CODES.has(code)) return { code: 'Unavailable', transient: true, detail };
  if (status !== undefined && status >= 500) return { code: 'Unavailable', transient: true, detail };
  if (status !== undefined && status >= 400) return { code: 'Rejected', transient: false, detail };
  // The SDK marks some failures retryable itself (e.g. a dropped connection mid-body).
  if (like.$retryable !== undefined && like.$retryable !== null) return { code: 'Unavailable', transient: true, detail };
  return { code: 'Failed', transient: false, detail };
}

/**
 * The StoreError for error. Errors of node:fs (they carry a syscall) stay attached as the
 * cause; others are reduced to their description, see StoreError.
 */
export function toStoreError(error: unknown, operation: StoreOperation, key: string, storeUrl: string): StoreError {
  if (error instanceof StoreError) return error;
  const { code, transient, detail } = classifyError(error);
  const keepCause = typeof error === 'object' && error !== null && 'syscall' in error;
  return new StoreError({ operation, key, storeUrl, code, transient, detail }, keepCause ? { cause: error } : undefined);
}
