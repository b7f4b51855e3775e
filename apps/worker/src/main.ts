// lstm-worker: computes gradients of shards for one numerics profile. Wiring only: the
// service is GradientWorker in libs/runner.
import { Command } from 'commander';
import { createBackendRegistry, localNumericsProfile } from '@lstm-runner/backends';
import {
  assertRedisReachable,
  formatLogLine,
  GradientWorker,
  logFormatOption,
  portOption,
  positiveIntegerOption as positiveInteger,
  redactCredentials,
  runtimeDefaults,
  serveWorkerEndpoints,
  WorkerMetrics,
} from '@lstm-runner/runner';

let connectionDefaults: ReturnType<typeof runtimeDefaults>;
try {
  connectionDefaults = runtimeDefaults();
} catch (error) {
  process.stderr.write(`lstm-worker: ${(error as Error).message}\n`);
  process.exit(2);
}

const program = new Command('lstm-worker')
  .description("Take gradient shards from the queue of this machine's numerics profile and compute them.")
  .option('--redis <url>', 'Redis URL (env REDIS_URL)', connectionDefaults.redisUrl)
  .option('--store <url>', 's3://bucket/prefix, file://dir or a directory (env LSTM_STORE)', connectionDefaults.storeUrl)
  .option('--s3-endpoint <url>', 'S3-compatible endpoint (env S3_ENDPOINT)', connectionDefaults.s3Endpoint)
  .option('--backend <name>', `compute backend: ${['auto', ...createBackendRegistry().names()].join(', ')}`, 'auto')
  .option('--threads <n>', 'threads one shard is computed with (part of the numerics profile; wasm computes on one)', positiveInteger, 1)
  .option('--concurrency <n>', 'shards computed at once, one compute thread each', positiveInteger, 1)
  .option(
    '--http-port <port>',
    'serve /healthz, /readyz and /metrics on this port (env LSTM_HTTP_PORT)',
    portOption,
    connectionDefaults.httpPort,
  )
  .option('--cache-dir <dir>', 'local cache of dataset segments', connectionDefaults.cacheDir)
  .option(
    '--cache-max-bytes <n>',
    'bound of the segment cache on disk; least recently used segments go (env LSTM_CACHE_MAX_BYTES)',
    positiveInteger,
    connectionDefaults.cacheMaxBytes,
  )
  .option('--queue-prefix <prefix>', 'BullMQ prefix (env LSTM_QUEUE_PREFIX)', connectionDefaults.queuePrefix)
  .option('--lock-duration-ms <ms>', 'shard lock duration (env LSTM_LOCK_DURATION_MS)', positiveInteger, connectionDefaults.lockDurationMs)
  .option(
    '--stalled-interval-ms <ms>',
    "how often dead workers' shards are looked for (env LSTM_STALLED_INTERVAL_MS)",
    positiveInteger,
    connectionDefaults.stalledIntervalMs,
  )
  .option(
    '--log-format <format>',
    'log lines as text, or json: one object a line with time, level, job, step, shard, worker (env LSTM_LOG_FORMAT)',
    logFormatOption,
    connectionDefaults.logFormat,
  )
  .option('--exit-with-parent', 'leave (finishing the shard in hand) when the parent process is gone (embedded mode)')
  .option('--verbose', 'print stack traces')
  .showHelpAfterError();

program.parse();
const options = program.opts<{
  redis: string;
  store: string;
  s3Endpoint?: string;
  backend: string;
  threads: number;
  concurrency: number;
  httpPort?: number;
  cacheDir: string;
  cacheMaxBytes: number;
  queuePrefix: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  logFormat: 'text' | 'json';
  exitWithParent?: boolean;
  verbose?: boolean;
}>();

/** Set once the worker exists: its lines then carry its id. */
let workerId: string | undefined;

const log = (line: string, level?: 'error'): void => {
  process.stderr.write(
    formatLogLine(line, {
      format: options.logFormat,
      redact: (text) => redactCredentials(text, options.redis),
      textPrefix: `[lstm-worker ${process.pid}] `,
      source: 'worker',
      ...(workerId === undefined ? {} : { fields: { workerId } }),
      ...(level === undefined ? {} : { level }),
    }),
  );
};

async function main(): Promise<void> {
  await assertRedisReachable(options.redis);
  // Resolve 'auto' here so the worker serves exactly one profile's queue.
  const { profile } = await localNumericsProfile({ backend: options.backend, threads: options.threads });
  const metrics = new WorkerMetrics();
  const worker = new GradientWorker({
    redisUrl: options.redis,
    prefix: options.queuePrefix,
    storeUrl: options.store,
    ...(options.s3Endpoint === undefined ? {} : { s3Endpoint: options.s3Endpoint }),
    cacheDir: options.cacheDir,
    cacheMaxBytes: options.cacheMaxBytes,
    profile,
    concurrency: options.concurrency,
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
    injectedShardDelayMs: connectionDefaults.injectedShardDelayMs,
    injectedShardDelayFile: connectionDefaults.injectedShardDelayFile,
    injectedCrash: connectionDefaults.injectedCrash,
    heartbeat: { everyMs: connectionDefaults.heartbeatMs, ttlMs: 3 * connectionDefaults.heartbeatMs },
    metrics,
    log: (line) => log(line),
  });
  workerId = worker.id;
  // The port comes up first: /readyz says 'not ready' while the backend loads.
  const endpoints =
    options.httpPort === undefined
      ? undefined
      : await serveWorkerEndpoints(
          options.httpPort,
          worker,
          options.store,
          options.s3Endpoint,
          options.redis,
          metrics,
          options.queuePrefix,
        );
  if (endpoints !== undefined) log(`http: /healthz, /readyz, /metrics on port ${endpoints.port}`);
  const description = await worker.start();
  log(`ready: ${description}; queue ${worker.queueName}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing the shard in hand, then leaving`);
    void worker
      .close()
      .then(() => endpoints?.close())
      .then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (options.exitWithParent === true) process.on('disconnect', () => stop('parent gone'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  const err = error instanceof Error ? error : new Error(String(error));
  const text = options.verbose === true ? (err.stack ?? err.message) : err.message;
  if (options.logFormat === 'json') log(text, 'error');
  else process.stderr.write(`lstm-worker: ${redactCredentials(text, options.redis)}\n`);
  process.exit(1);
});
