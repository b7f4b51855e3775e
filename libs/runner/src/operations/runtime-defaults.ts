// Where the processes look for Redis, the store and their timings when no flag says:
// environment variables first, then embedded defaults (a local store directory and the
// local Redis). One place, shared by `lstm` and `lstm-worker`.
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { DEFAULT_CACHE_MAX_BYTES } from '@lstm-runner/data';
import { DEFAULT_QUEUE_PREFIX } from '@lstm-runner/protocol';
import { DEFAULT_REDIS_URL } from '../redis/redis-connection';
import { DEFAULT_LEASE_OPTIONS } from '../training/job-lease';
import { DEFAULT_DISPATCHER_OPTIONS } from '../training/shard-dispatcher';
import { DEFAULT_WORKER_WATCH_OPTIONS } from '../training/worker-watch';
import { DEFAULT_GRADIENT_WORKER_OPTIONS } from '../worker/gradient-worker';
import type { InjectedCrash } from '../worker/compute-thread-messages';
import { DEFAULT_HEARTBEAT_TIMINGS } from './worker-registry';
import { parseLogFormat, type LogFormat } from '../logging/log-lines';

export interface RuntimeDefaults {
  readonly redisUrl: string;
  readonly storeUrl: string;
  readonly s3Endpoint: string | undefined;
  readonly cacheDir: string;
  /** The bound of the segment cache on disk (LSTM_CACHE_MAX_BYTES, default 1 GiB). */
  readonly cacheMaxBytes: number;
  readonly queuePrefix: string;
  readonly lockDurationMs: number;
  readonly stalledIntervalMs: number;
  readonly leaseTtlMs: number;
  /** A shard running this long (and 3x the step's median) gets a duplicate on an idle worker. */
  readonly stragglerMinMs: number;
  /** How often a worker renews its announcement in Redis (it expires after three times this). */
  readonly heartbeatMs: number;
  /** How long a running job's profile may go without a live worker before it is reported. */
  readonly workerNoticeMs: number;
  /** Log lines for people (text) or one JSON object a line (json), LSTM_LOG_FORMAT. */
  readonly logFormat: LogFormat;
  /** The HTTP port of `lstm coordinator` and `lstm worker` (health, readiness, metrics); undefined: none. */
  readonly httpPort: number | undefined;
  /** Fault injection for drills and soak tests (docs/operations.md): every shard of a worker takes this much longer. */
  readonly injectedShardDelayMs: number;
  /** Fault injection: a file ordering delays of a worker's next shards (LSTM_INJECT_SHARD_DELAY_FILE; stragglers on demand). */
  readonly injectedShardDelayFile: string | undefined;
  /** Fault injection: a worker dies of SIGSEGV when it computes this training shard (LSTM_INJECT_WORKER_CRASH=step:shard). */
  readonly injectedCrash: InjectedCrash | undefined;
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
    cacheMaxBytes: number('LSTM_CACHE_MAX_BYTES', DEFAULT_CACHE_MAX_BYTES),
    queuePrefix: env['LSTM_QUEUE_PREFIX'] ?? DEFAULT_QUEUE_PREFIX,
    lockDurationMs: number('LSTM_LOCK_DURATION_MS', DEFAULT_GRADIENT_WORKER_OPTIONS.lockDurationMs),
    stalledIntervalMs: number('LSTM_STALLED_INTERVAL_MS', DEFAULT_GRADIENT_WORKER_OPTIONS.stalledIntervalMs),
    leaseTtlMs: number('LSTM_LEASE_TTL_MS', DEFAULT_LEASE_OPTIONS.ttlMs),
    heartbeatMs: number('LSTM_HEARTBEAT_MS', DEFAULT_HEARTBEAT_TIMINGS.everyMs),
    stragglerMinMs: number('LSTM_STRAGGLER_MIN_MS', DEFAULT_DISPATCHER_OPTIONS.stragglerMinMs),
    workerNoticeMs: number('LSTM_WORKER_NOTICE_MS', DEFAULT_WORKER_WATCH_OPTIONS.noticeAfterMs),
    logFormat: env['LSTM_LOG_FORMAT'] === undefined ? 'text' : parseLogFormat(env['LSTM_LOG_FORMAT'], 'LSTM_LOG_FORMAT'),
    httpPort: env['LSTM_HTTP_PORT'] === undefined ? undefined : parsePort(env['LSTM_HTTP_PORT'], 'LSTM_HTTP_PORT'),
    injectedShardDelayMs:
      env['LSTM_INJECT_SHARD_DELAY_MS'] === undefined
        ? 0
        : parseNonNegativeInteger(env['LSTM_INJECT_SHARD_DELAY_MS'], 'LSTM_INJECT_SHARD_DELAY_MS'),
    injectedShardDelayFile: env['LSTM_INJECT_SHARD_DELAY_FILE'] || undefined,
    injectedCrash: env['LSTM_INJECT_WORKER_CRASH'] === undefined ? undefined : parseInjectedCrash(env['LSTM_INJECT_WORKER_CRASH']),
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

/** `step:shard`, the training shard whose computation kills its worker. */
function parseInjectedCrash(text: string): InjectedCrash {
  const match = /^(\d+):(\d+)$/.exec(text.trim());
  if (match === null) throw new RangeError(`LSTM_INJECT_WORKER_CRASH must be <step>:<shard>, e.g. 3:1, got '${text}'`);
  return { step: Number(match[1]), shard: Number(match[2]) };
}

/** A TCP port (0 picks a free one), or an error naming it. */
export function parsePort(text: string, name: string): number {
  const value = parseNonNegativeInteger(text, name);
  if (value > 65_535) throw new RangeError(`${name} must be a port from 0 to 65535, got '${text}'`);
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

/** A port as a commander option parser. */
export function portOption(text: string): number {
  try {
    return parsePort(text, 'the port');
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}
