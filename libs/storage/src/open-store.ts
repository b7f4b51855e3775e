// openStore: one URL picks the store. s3://bucket/prefix -> S3Store; file:///dir or a plain
// directory path -> LocalStore. Every store comes wrapped in RetryingStore, with the faults
// of LSTM_INJECT_STORE_FAULTS (fault injection) inside the retries when that variable is set,
// and those of the control file LSTM_INJECT_STORE_FAULTS_FILE names (fault-control-file.ts).
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StoreConfigError } from './errors/store-config-error';
import { faultFileFromEnv, FileControlledFaults } from './fault-control-file';
import { faultPlanFromEnv, withFaults, type FaultPlan } from './faults';
import { keyProblem } from './keys';
import { LocalStore } from './local-store';
import type { ObjectStore } from './object-store';
import { DEFAULT_RETRY_OPTIONS, type RetryOptions } from './retry';
import { RetryingStore } from './retrying-store';
import { S3Store, type S3Credentials, type S3Location } from './s3-store';

export interface StoreOptions extends RetryOptions {
  /** S3 endpoint (http(s)://host:port) of a compatible server; default S3_ENDPOINT; unset: AWS. */
  endpoint: string | undefined;
  /** Default AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1. */
  region: string;
  /** Path-style bucket addressing; default: on when an endpoint is set (MinIO, s3rver). */
  forcePathStyle: boolean;
  /** Explicit S3 credentials; default: the SDK's standard chain. */
  credentials: S3Credentials | undefined;
  /** Keys per S3 list page (1 to 1000). */
  listPageSize: number;
  /** Faults to inject inside the retries (fault injection); default: parsed from LSTM_INJECT_STORE_FAULTS. */
  faults: FaultPlan | undefined;
  /** A control file whose fault plans are armed as it changes (fault injection); default: LSTM_INJECT_STORE_FAULTS_FILE. */
  faultsFile: string | undefined;
  /** Where the env defaults come from; default process.env. */
  env: Readonly<Record<string, string | undefined>>;
}

/** Any subset of the options; one given as undefined keeps its default. */
export type OpenStoreOptions = { [K in keyof StoreOptions]?: StoreOptions[K] | undefined };

export const DEFAULT_LIST_PAGE_SIZE = 1000;

export type StoreLocation = { readonly kind: 's3'; readonly s3: S3Location } | { readonly kind: 'local'; readonly root: string };

function invalid(problem: string): never {
  throw new StoreConfigError(problem);
}

function checkNumber(name: string, value: number, minimum: number, integer: boolean): void {
  if (!Number.isFinite(value) || value < minimum || (integer && !Number.isInteger(value))) {
    invalid(`store option ${name} must be ${integer ? 'an integer' : 'a number'} >= ${minimum}, got ${String(value)}`);
  }
}

function checkEndpoint(endpoint: string): void {
  let parsed: URL;
  try {
    parsed = new URL(endpoint);
  } catch {
    invalid('the S3 endpoint is not a URL (expected http(s)://host:port)');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') invalid('the S3 endpoint must be an http:// or https:// URL');
  if (parsed.username !== '' || parsed.password !== '') {
    invalid('the S3 endpoint must not carry credentials; use the standard AWS credential chain');
  }
}

function budgetFromEnv(text: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || value < 1) invalid(`LSTM_STORE_CALL_BUDGET_MS must be a positive integer (milliseconds), got '${text}'`);
  return value;
}

/** Defaults merged with options (an option set to undefined keeps its default), then validated. */
export function resolveStoreOptions(options: OpenStoreOptions = {}): StoreOptions {
  const given = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
  const env = options.env ?? process.env;
  const endpoint = options.endpoint ?? (env.S3_ENDPOINT || undefined);
  const budget = env.LSTM_STORE_CALL_BUDGET_MS;
  const resolved: StoreOptions = {
    ...DEFAULT_RETRY_OPTIONS,
    listPageSize: DEFAULT_LIST_PAGE_SIZE,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    forcePathStyle: endpoint !== undefined,
    credentials: undefined,
    ...(budget === undefined || budget === '' ? {} : { budgetMs: budgetFromEnv(budget) }),
    ...given,
    endpoint,
    faults: options.faults ?? faultPlanFromEnv(env),
    faultsFile: options.faultsFile ?? faultFileFromEnv(env),
    env,
  };
  checkNumber('attempts', resolved.attempts, 1, true);
  checkNumber('baseDelayMs', resolved.baseDelayMs, 0, false);
  checkNumber('maxDelayMs', resolved.maxDelayMs, resolved.baseDelayMs, false);
  checkNumber('timeoutMs', resolved.timeoutMs, 1, false);
  checkNumber('budgetMs', resolved.budgetMs, 1, false);
  checkNumber('listPageSize', resolved.listPageSize, 1, true);
  if (resolved.listPageSize > 1000) invalid(`store option listPageSize must be at most 1000, got ${resolved.listPageSize}`);
  if (resolved.region === '') invalid('store option region must not be empty');
  if (resolved.endpoint !== undefined) checkEndpoint(resolved.endpoint);
  return resolved;
}

const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

/** Where url points: an S3 bucket and prefix, or a local directory. */
export function parseStoreUrl(url: string): StoreLocation {
  if (url.trim() === '') invalid('the store URL is empty (expected s3://bucket/prefix, file:///dir or a directory)');
  const scheme = URL_SCHEME.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'local', root: resolve(url) };
  if (scheme === 'file') {
    try {
      return { kind: 'local', root: resolve(fileURLToPath(url)) };
    } catch {
      invalid('a file:// store URL must be file:///absolute/dir');
    }
  }
  if (scheme !== 's3') invalid(`store URLs with scheme '${scheme}' are not supported (use s3://bucket/prefix, file:///dir or a directory)`);
  const rest = url.slice('s3://'.length);
  const slash = rest.indexOf('/');
  const bucket = slash === -1 ? rest : rest.slice(0, slash);
  if (bucket.includes('@')) invalid('s3:// store URLs must not carry credentials; use the standard AWS credential chain');
  if (!S3_BUCKET.test(bucket)) invalid(`'${bucket}' is not a valid S3 bucket name`);
  const prefix = slash === -1 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
  if (prefix !== '') {
    const problem = keyProblem(prefix);
    if (problem !== null) invalid(`the S3 key prefix '${prefix}' ${problem}`);
  }
  return { kind: 's3', s3: { bucket, prefix: prefix === '' ? '' : `${prefix}/` } };
}

/**
 * Opens the store url names (s3://bucket/prefix, file:///dir or a directory path). Throws
 * StoreConfigError for an unusable URL or option; connects lazily, on the first call.
 */
export function openStore(url: string, options: OpenStoreOptions = {}): ObjectStore {
  const resolved = resolveStoreOptions(options);
  const location = parseStoreUrl(url);
  const store: ObjectStore =
    location.kind === 's3'
      ? new S3Store(location.s3, {
          endpoint: resolved.endpoint,
          region: resolved.region,
          forcePathStyle: resolved.forcePathStyle,
          credentials: resolved.credentials,
          listPageSize: resolved.listPageSize,
          requestTimeoutMs: resolved.timeoutMs,
        })
      : new LocalStore(location.root);
  const planned = resolved.faults === undefined ? store : withFaults(store, resolved.faults);
  const controlled = resolved.faultsFile === undefined ? planned : new FileControlledFaults(planned, resolved.faultsFile);
  return new RetryingStore(controlled, resolved);
}
