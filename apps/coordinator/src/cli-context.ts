// What every command shares: connection settings from flags and env, the store, and the
// rule for errors (one line on stderr, stack with --verbose, credentials never printed).
import { Option, type Command } from 'commander';
import { openStore, type ObjectStore } from '@lstm-runner/storage';
import {
  formatLogLine,
  GenerationMemory,
  logFormatOption,
  redactCredentials,
  runtimeDefaults,
  type CoordinatorOptions,
  type LogFields,
  type LogFormat,
  type RuntimeDefaults,
} from '@lstm-runner/runner';

export { positiveIntegerOption } from '@lstm-runner/runner';

let environment: RuntimeDefaults | undefined;

/** Settings from the environment and the embedded defaults, read once (a bad value throws a one-line error naming the variable). */
export function defaults(): RuntimeDefaults {
  environment ??= runtimeDefaults();
  return environment;
}

/** The coordinator's timings from the environment: its lease (renewed five times per lifetime), straggler duplicates, the no-worker notice. */
export function coordinatorTimings(): Pick<CoordinatorOptions, 'lease' | 'dispatcher' | 'workerWatch'> {
  const { leaseTtlMs, stragglerMinMs, workerNoticeMs } = defaults();
  return {
    lease: { ttlMs: leaseTtlMs, renewEveryMs: Math.max(100, Math.floor(leaseTtlMs / 5)) },
    dispatcher: { stragglerMinMs },
    workerWatch: { noticeAfterMs: workerNoticeMs },
  };
}

export interface ConnectionFlags {
  readonly store: string;
  readonly redis: string;
  readonly s3Endpoint?: string;
  readonly queuePrefix: string;
  readonly verbose?: boolean;
}

export function withStore(command: Command): Command {
  return command
    .option('--store <url>', 's3://bucket/prefix, file://dir or a directory (env LSTM_STORE)', defaults().storeUrl)
    .option('--s3-endpoint <url>', 'S3-compatible endpoint, e.g. MinIO (env S3_ENDPOINT)', defaults().s3Endpoint);
}

export function withRedis(command: Command): Command {
  return command
    .option('--redis <url>', 'Redis URL, redis:// or rediss:// (env REDIS_URL)', defaults().redisUrl)
    .addOption(new Option('--queue-prefix <prefix>', 'BullMQ prefix (env LSTM_QUEUE_PREFIX)').default(defaults().queuePrefix).hideHelp());
}

export function openCommandStore(flags: Pick<ConnectionFlags, 'store' | 's3Endpoint'>): ObjectStore {
  return openStore(flags.store, flags.s3Endpoint === undefined ? {} : { endpoint: flags.s3Endpoint });
}

/** Thrown for a wrong use of a command: printed as is, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

let secrets: string[] = [];

/** URLs whose credentials must never be printed. */
export function rememberSecrets(...urls: (string | undefined)[]): void {
  secrets = [...secrets, ...urls.filter((url): url is string => url !== undefined)];
}

export function redact(text: string): string {
  return secrets.reduce((out, url) => redactCredentials(out, url), text);
}

let logFormat: LogFormat = 'text';
/** Each job's generation as this process last logged it, for JSON lines that name only the job. */
const generations = new GenerationMemory();

/** The --log-format flag of the services and runs (env LSTM_LOG_FORMAT); the program's preAction hook applies it. */
export function withLogFormat(command: Command): Command {
  return command.option(
    '--log-format <format>',
    'log lines as text, or json: one object a line with time, level, job, step, shard (env LSTM_LOG_FORMAT)',
    logFormatOption,
    defaults().logFormat,
  );
}

export function useLogFormat(format: LogFormat): void {
  logFormat = format;
}

export function currentLogFormat(): LogFormat {
  return logFormat;
}

export function printError(error: unknown, verbose: boolean): void {
  const err = error instanceof Error ? error : new Error(String(error));
  const text = verbose ? (err.stack ?? err.message) : err.message.split('\n')[0]!;
  process.stderr.write(formatLogLine(text, { format: logFormat, redact, textPrefix: 'lstm: ', source: 'lstm', level: 'error' }));
}

/** Status lines go to stderr so that stdout carries only results (ids, JSON, text). */
export function info(line: string, fields?: LogFields): void {
  process.stderr.write(formatLogLine(line, { format: logFormat, redact, generations, ...(fields === undefined ? {} : { fields }) }));
}

/** A log of one service in this process: text lines start with `[source] `. */
export function serviceLog(source: string): (line: string) => void {
  return (line) =>
    process.stderr.write(formatLogLine(line, { format: logFormat, redact, textPrefix: `[${source}] `, source, generations }));
}
