import type { StoreOperation } from '../object-store';

export type StoreErrorCode =
  | 'NotFound'
  | 'InvalidKey'
  | 'InvalidRange'
  | 'ChecksumMismatch'
  /** No answer within the per-attempt timeout. */
  | 'Timeout'
  /** The service asked us to slow down (429, SlowDown, throttling). */
  | 'Throttled'
  /** Network errors, 5xx answers, a busy file system. */
  | 'Unavailable'
  /** 4xx answers other than the ones above: permissions, a missing bucket, a bad request. */
  | 'Rejected'
  /** A fault injected by withFaults (a testing aid). */
  | 'InjectedFault'
  | 'Closed'
  | 'Failed';

/**
 * A store operation that failed. The message names the operation, the key and the store URL
 * (which never holds credentials); errors of the S3 SDK are reduced to their name, status and
 * message and never attached whole, because their properties can echo request details.
 */
export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  readonly operation: StoreOperation;
  /** The key (for list: the prefix). */
  readonly key: string;
  readonly code: StoreErrorCode;
  /** Worth retrying: the same call may succeed later. */
  readonly transient: boolean;
  /** What went wrong, without the operation, key and store (those are in the message). */
  readonly detail: string;
  /** Attempts made before giving up (1 when the error was not retried). */
  readonly attempts: number;

  constructor(
    details: {
      operation: StoreOperation;
      key: string;
      storeUrl: string;
      code: StoreErrorCode;
      transient: boolean;
      detail: string;
      attempts?: number;
    },
    options?: { cause?: unknown },
  ) {
    const attempts = details.attempts ?? 1;
    const tries = attempts > 1 ? ` (after ${attempts} attempts)` : '';
    super(`${details.operation} '${details.key}' in ${details.storeUrl} failed${tries}: ${details.detail}`, options);
    this.operation = details.operation;
    this.key = details.key;
    this.code = details.code;
    this.transient = details.transient;
    this.detail = details.detail;
    this.attempts = attempts;
  }
}
