// Running a job from the command line: embedded (a coordinator in this process and N local
// worker processes) or through a running `lstm coordinator` service, with progress shown.
import { join } from 'node:path';
import { isFinalState, jobStatus, pollJobStatus } from '@lstm-runner/job-store';
import { corpusWordFraction, generateText, loadTrainedModel, sampleSeedText, textBaselines } from '@lstm-runner/models';
import { localNumericsProfile } from '@lstm-runner/backends';
import { formatNumericsProfile, type NumericsProfile, type ProfileSpec } from '@lstm-runner/protocol';
import { assertRedisReachable, Coordinator, enqueueJobRun, markJobFailed, servedProfilesAt, type JobOutcome } from '@lstm-runner/runner';
import type { ObjectStore } from '@lstm-runner/storage';
import { currentLogFormat, defaults, info, coordinatorTimings, rememberSecrets, type ConnectionFlags } from '../cli-context';
import { LocalWorkers, reachRedis, type ReachableRedis } from '../local-processes';
import { ProgressReporter } from '../progress';

export interface RunFlags extends ConnectionFlags {
  readonly localWorkers?: number;
  readonly follow?: boolean;
  readonly json?: boolean;
  readonly stopAfterSteps?: number;
  readonly sample?: boolean;
}

/** Exit code of a finished job: 0 only when it completed. */
export function exitCodeOf(state: string): number {
  return state === 'completed' ? 0 : state === 'running' ? 3 : 1;
}

/** Where a run's Redis is: the service's (checked), or for an embedded run one it can reach or start. Called before anything is written. */
export async function connectRun(flags: RunFlags): Promise<ReachableRedis> {
  if (flags.localWorkers === undefined) {
    await assertRedisReachable(flags.redis);
    return { url: flags.redis, stop: () => undefined };
  }
  const redis = await reachRedis(
    flags.redis,
    flags.redis === defaults().redisUrl && process.env['REDIS_URL'] === undefined,
    join(process.cwd(), '.lstm', 'redis'),
  );
  rememberSecrets(redis.url);
  return redis;
}

/** The profiles a run can count on: what live workers serve, or for an embedded run what its local workers will compute. */
export async function availableProfiles(request: ProfileSpec, flags: RunFlags, redis: ReachableRedis): Promise<string[]> {
  if (flags.localWorkers !== undefined) return [formatNumericsProfile((await localNumericsProfile(request)).profile)];
  return servedProfilesAt(redis.url, flags.queuePrefix);
}

export async function runJobFromCli(
  store: ObjectStore,
  jobId: string,
  profile: NumericsProfile,
  flags: RunFlags,
  redis: ReachableRedis,
): Promise<number> {
  if (flags.localWorkers === undefined) {
    await enqueueJobRun(flags.redis, flags.queuePrefix, jobId);
    process.stdout.write(`${jobId}\n`);
    if (flags.follow !== true) return 0;
    return followJob(store, jobId);
  }
  try {
    return await runEmbedded(store, jobId, profile, flags.localWorkers, flags, redis);
  } finally {
    redis.stop();
  }
}

async function runEmbedded(
  store: ObjectStore,
  jobId: string,
  profile: NumericsProfile,
  workers: number,
  flags: RunFlags,
  redis: ReachableRedis,
): Promise<number> {
  const progress = new ProgressReporter(jobId);
  const coordinator = new Coordinator({
    store,
    redisUrl: redis.url,
    prefix: flags.queuePrefix,
    ...coordinatorTimings(),
    ...(flags.s3Endpoint === undefined ? {} : { s3Endpoint: flags.s3Endpoint }),
    log: (line) => progress.log(line),
    onProgress: (event) => progress.update(event),
  });
  const local = new LocalWorkers({
    redisUrl: redis.url,
    storeUrl: store.url,
    ...(flags.s3Endpoint === undefined ? {} : { s3Endpoint: flags.s3Endpoint }),
    queuePrefix: flags.queuePrefix,
    backend: profile.backend,
    threads: profile.threads,
    cacheDir: defaults().cacheDir,
    extraArgs: [
      '--lock-duration-ms',
      String(defaults().lockDurationMs),
      '--stalled-interval-ms',
      String(defaults().stalledIntervalMs),
      '--log-format',
      currentLogFormat(),
    ],
    // Workers that cannot start (their backend does not load) leave nothing to wait for.
    onAllExited: (reason) => {
      progress.log(`every local worker exited: ${reason}`);
      coordinator.requestStop();
    },
  });
  local.start(workers);
  info(`job ${jobId}: ${workers} local worker${workers === 1 ? '' : 's'} (${formatNumericsProfile(profile)}), store ${store.url}`);
  let interrupted = 0;
  const onSignal = (): void => {
    interrupted += 1;
    if (interrupted === 1) {
      progress.log('stopping: checkpointing at the end of this step (Ctrl-C again to leave at once)');
      coordinator.requestStop();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let outcome: JobOutcome;
  try {
    outcome = await coordinator.runJob(jobId, flags.stopAfterSteps === undefined ? {} : { stopAfterSteps: flags.stopAfterSteps });
  } catch (error) {
    await failIfNeverStarted(store, jobId, error);
    throw error;
  } finally {
    progress.stop();
    await coordinator.close();
    await local.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  await reportOutcome(store, outcome, flags);
  // A run stopped on purpose after --stop-after-steps is a success.
  return outcome.state === 'running' && flags.stopAfterSteps !== undefined && interrupted === 0 ? 0 : exitCodeOf(outcome.state);
}

/** An embedded run that failed before its first step leaves its job failed, not queued: no service picks it up later. */
async function failIfNeverStarted(store: ObjectStore, jobId: string, error: unknown): Promise<void> {
  const status = await jobStatus(store, jobId).catch(() => null);
  if (status === null || status.step > 0 || isFinalState(status.state)) return;
  await markJobFailed(store, jobId, `the run that started it failed before its first step: ${(error as Error).message}`).catch(
    () => undefined,
  );
}

async function reportOutcome(store: ObjectStore, outcome: JobOutcome, flags: RunFlags): Promise<void> {
  const status = await jobStatus(store, outcome.jobId);
  const message = outcome.message === undefined || outcome.state === 'running' ? '' : `: ${outcome.message}`;
  info(`job ${outcome.jobId} ${outcome.state === 'running' ? 'stopped' : outcome.state} at step ${outcome.step}${message}`);
  if (status.checkpoint !== null) info(`checkpoint: ${store.url}/${status.checkpoint}`);
  if (flags.sample === true && status.checkpoint !== null) await printSamples(store, outcome.jobId, status.validationLoss);
  if (outcome.state === 'running') info(`continue with: npx lstm resume ${outcome.jobId} --local-workers ${flags.localWorkers ?? 2}`);
}

/**
 * Text from the latest checkpoint at temperatures 0.5 and 1.0 (char-LMs only), after the
 * validation loss next to the bigram baseline, each sample with the share of its words that
 * are words of the corpus: what the model has learned, in terms a first-time user can judge.
 */
async function printSamples(store: ObjectStore, jobId: string, validationLoss: number | null): Promise<void> {
  const trained = await loadTrainedModel(store, jobId);
  if (trained.encoding.kind !== 'text') return;
  const { bigramLoss, words } = await textBaselines(store, jobId);
  if (validationLoss !== null && bigramLoss !== null) {
    const verdict = validationLoss < bigramLoss ? 'below' : 'not below';
    info(
      `validation loss ${validationLoss.toFixed(3)} nats/char, ${verdict} the bigram baseline of ${bigramLoss.toFixed(3)} (a table of letter pairs)`,
    );
  }
  const seed = await sampleSeedText(store, jobId, defaults().cacheDir);
  for (const temperature of [0.5, 1.0]) {
    const text = await generateText(trained, { seed, length: 300, temperature, rngSeed: 1 });
    const generated = text.slice(seed.length);
    const share = Math.round(100 * corpusWordFraction(generated, words));
    process.stdout.write(`\n--- temperature ${temperature} (${share}% of its words are words of the corpus) ---\n${text}\n`);
  }
}

/** Shows a job's progress from the store until it ends; Ctrl-C detaches and leaves it running. */
export async function followJob(store: ObjectStore, jobId: string): Promise<number> {
  const progress = new ProgressReporter(jobId);
  let detached = false;
  const detach = (): void => {
    detached = true;
  };
  process.once('SIGINT', detach);
  let notice: string | null = null;
  try {
    for (;;) {
      const status = await pollJobStatus(store, jobId);
      // Said once when it appears (no worker serves the job's profile), and again if it changes.
      if (status.notice !== null && status.notice !== notice) progress.log(`job ${jobId}: ${status.notice}`);
      notice = status.notice;
      progress.updateFromStatus(status);
      // A completed job is over for its follower once its model version is written: a
      // `--follow && predict --model NAME` must read the new model.
      if (isFinalState(status.state) && !status.publishing) {
        progress.stop();
        info(`job ${jobId} ${status.state} at step ${status.step}${status.message === null ? '' : `: ${status.message}`}`);
        return exitCodeOf(status.state);
      }
      if (detached) {
        progress.stop();
        info(`detached; job ${jobId} goes on (lstm status ${jobId})`);
        return 0;
      }
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  } finally {
    process.off('SIGINT', detach);
  }
}
