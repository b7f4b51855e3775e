// Where the processes look for Redis, the store and their timings when no flag says:
// environment variables first, then embedded defaults (a local store directory and the
// local Redis). One place, shared by `lstm` and `lstm-worker`.
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { DEFAULT_QUEUE_PREFIX } from '@lstm-runner/protocol';
import { DEFAULT_REDIS_URL } from '../redis/redis-connection';
import { DEFAULT_LEASE_OPTIONS } from '../training/job-lease';
import { DEFAULT_GRADIENT_WORKER_OPTIONS } from '../worker/gradient-worker';

export interface RuntimeDefaults {
  readonly redisUrl: string;
  readonly storeUrl: string;
  readonly s3Endpoint: string | undefined;
  readonly cacheDir: string;
  readonly queuePrefix: string;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly leaseTtlMs: number;
  /** Fault injection for drills and soak tests (docs/operations.md): every shard of a worker takes this much longer. */
  readonly injectedShardDelayMs: number;
}

/** The embedded default store: a directory in the working directory. */
export const DEFAULT_LOCAL_STORE_DIR = join('.lstm', 'store');

export function runtimeDefaults(env: Readonly<Record<string, string | undefined>> = process.env, cwd = process.cwd()): RuntimeDefaults {
  const number = (name: string, fallback: number): number => (env[name] === undefined ? fallback : parsePositiveInteger(env[name]!, name));
  return {
    redisUrl: env['REDIS_URL'] ?? DEFAULT_REDIS_URL,
    storeUrl: env['LSTM_STORE'] ?? join(cwd, DEFAULT_LOCAL_STORE_DIR),
    s3Endpoint: env['S3_ENDPOINT'],
    cacheDir: env['LSTM_CACHE_DIR'] ?? join(cwd, '.lstm', 'cache'),
    queuePrefix: env['LSTM_QUEUE_PREFIX'] ?? DEFAULT_QUEUE_PREFIX,
    lockDurationMs: number('LSTM_LOCK_DURATION_MS', DEFAULT_GRADIENT_WORKER_OPTIONS.lockDurationMs),
    stalledIntervalMs: number('LSTM_STALLED_INTERVAL_MS', DEFAULT_GRADIENT_WORKER_OPTIONS.stalledIntervalMs),
    leaseTtlMs: number('LSTM_LEASE_TTL_MS', DEFAULT_LEASE_OPTIONS.ttlMs),
    injectedShardDelayMs:
      env['LSTM_INJECT_SHARD_DELAY_MS'] === undefined
        ? 0
        : parseNonNegativeInteger(env['LSTM_INJECT_SHARD_DELAY_MS'], 'LSTM_INJECT_SHARD_DELAY_MS'),
  };
}

/** A positive integer from text (a flag or an env variable), or an error naming it. */
export function parsePositiveInteger(text: string, name: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got '${text}'`);
  }
  return value;
}

/** A non-negative integer from text, or an error naming it. */
export function parseNonNegativeInteger(text: string, name: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value)) throw new RangeError(`${name} must be an integer >= 0, got '${text}'`);
  return value;
}

/** The same, as a commander option parser (both bins take the same flags). */
export function positiveIntegerOption(text: string): number {
  try {
    return parsePositiveInteger(text, 'the value');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}
