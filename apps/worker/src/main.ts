// lstm-worker: computes gradients of shards for one numerics profile. Wiring only: the
// service is GradientWorker in libs/runner.
import { Command } from 'commander';
import { loadComputeBackend } from '@lstm-runner/backends';
import {
  assertRedisReachable,
  GradientWorker,
  positiveIntegerOption as positiveInteger,
  redactCredentials,
  runtimeDefaults,
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
  .option('--backend <name>', 'compute backend: auto, tensorflow-gpu, tensorflow, wasm, cpu', 'auto')
  .option('--concurrency <n>', 'shards computed at once, one thread each', positiveInteger, 1)
  .option('--cache-dir <dir>', 'local cache of dataset segments', connectionDefaults.cacheDir)
  .option('--queue-prefix <prefix>', 'BullMQ prefix (env LSTM_QUEUE_PREFIX)', connectionDefaults.queuePrefix)
  .option('--lock-duration-ms <ms>', 'shard lock duration (env LSTM_LOCK_DURATION_MS)', positiveInteger, connectionDefaults.lockDurationMs)
  .option(
    '--stalled-interval-ms <ms>',
    "how often dead workers' shards are looked for (env LSTM_STALLED_INTERVAL_MS)",
    positiveInteger,
    connectionDefaults.stalledIntervalMs,
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
  concurrency: number;
  cacheDir: string;
  queuePrefix: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  exitWithParent?: boolean;
  verbose?: boolean;
}>();

const log = (line: string): void => {
  process.stderr.write(`[lstm-worker ${process.pid}] ${redactCredentials(line, options.redis)}\n`);
};

async function main(): Promise<void> {
  await assertRedisReachable(options.redis);
  // Resolve 'auto' here so the worker serves exactly one profile's queue.
  const loaded = await loadComputeBackend(options.backend);
  const backendName = loaded.backend.name;
  loaded.backend.dispose();
  const worker = new GradientWorker({
    redisUrl: options.redis,
    prefix: options.queuePrefix,
    storeUrl: options.store,
    ...(options.s3Endpoint === undefined ? {} : { s3Endpoint: options.s3Endpoint }),
    cacheDir: options.cacheDir,
    profile: { backend: backendName, threads: 1 },
    concurrency: options.concurrency,
    lockDurationMs: options.lockDurationMs,
    stalledIntervalMs: options.stalledIntervalMs,
    injectedShardDelayMs: connectionDefaults.injectedShardDelayMs,
    log,
  });
  const description = await worker.start();
  log(`ready: ${description}; queue ${worker.queueName}`);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: finishing the shard in hand, then leaving`);
    void worker.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (options.exitWithParent === true) process.on('disconnect', () => stop('parent gone'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  const err = error instanceof Error ? error : new Error(String(error));
  process.stderr.write(
    `lstm-worker: ${redactCredentials(options.verbose === true ? (err.stack ?? err.message) : err.message, options.redis)}\n`,
  );
  process.exit(1);
});
