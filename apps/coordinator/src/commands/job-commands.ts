// lstm train | resume | cancel | status: wiring of libs/runner for jobs.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { localNumericsProfile } from '@lstm-runner/backends';
import { jobStatus, listJobIds, readJobRecord } from '@lstm-runner/job-store';
import { loadJobSpec, type JobSpec, type NumericsProfile } from '@lstm-runner/protocol';
import {
  assertRedisReachable,
  cancelJob,
  createJob,
  openDataSource,
  profileForResume,
  reopenJob,
  resolveJobProfile,
} from '@lstm-runner/runner';
import {
  info,
  openCommandStore,
  positiveIntegerOption,
  rememberSecrets,
  withLogFormat,
  withRedis,
  withStore,
  type ConnectionFlags,
} from '../cli-context';
import { formatLoss } from '../progress';
import { availableProfiles, connectRun, followJob, runJobFromCli, type RunFlags } from './run-job';

/** The numerics profile a new job records: one the run's workers serve, else what this machine computes (said in one line). */
export async function profileOf(spec: JobSpec, available: readonly string[]): Promise<NumericsProfile> {
  const resolved = await resolveJobProfile(
    spec.training.profile,
    available,
    async (request) => (await localNumericsProfile(request)).profile,
  );
  info(resolved.note);
  return resolved.profile;
}

export function jobCommands(program: Command): void {
  trainCommand(program);
  resumeCommand(program);
  cancelCommand(program);
  statusCommand(program);
}

function trainCommand(program: Command): void {
  withLogFormat(withRedis(withStore(program.command('train'))))
    .description('submit a training job (or run it here with --local-workers)')
    .argument('<spec>', 'job spec (YAML or JSON)')
    .option('--job-id <id>', 'id for the new job (default: <name>-<time>-<random>)')
    .option('--local-workers <n>', 'run the coordinator and N worker processes here; return when the job ends', positiveIntegerOption)
    .option('--follow', 'show progress until the job ends (Ctrl-C detaches)')
    .option('--stop-after-steps <n>', 'with --local-workers: checkpoint and stop after n steps (resume later)', positiveIntegerOption)
    .option('--sample', 'with --local-workers, for text: print generated text at temperatures 0.5 and 1.0 at the end')
    .action(async (specPath: string, flags: RunFlags & { jobId?: string }) => {
      rememberSecrets(flags.redis, flags.store);
      const spec = await loadJobSpec(resolve(specPath));
      // Redis first: a run that cannot reach it writes nothing a service would pick up later.
      const redis = await connectRun(flags);
      const store = openCommandStore(flags);
      try {
        const profile = await profileOf(spec, await availableProfiles(spec.training.profile, flags, redis));
        const created = await createJob({
          store,
          spec,
          source: await openDataSource(spec.data.source, flags.s3Endpoint),
          profile,
          ...(flags.jobId === undefined ? {} : { jobId: flags.jobId }),
        });
        info(
          `job ${created.record.id}: ${created.record.totalSteps} steps, dataset ${created.record.datasetId}${created.datasetCreated ? ' (prepared)' : ''}`,
        );
        process.exitCode = await runJobFromCli(store, created.record.id, profile, flags, redis);
      } finally {
        await store.close();
      }
    });
}

function resumeCommand(program: Command): void {
  withLogFormat(withRedis(withStore(program.command('resume'))))
    .description('continue a job from its last checkpoint')
    .argument('<job>', 'job id')
    .option('--local-workers <n>', 'run the coordinator and N worker processes here', positiveIntegerOption)
    .option('--follow', 'show progress until the job ends (Ctrl-C detaches)')
    .option('--stop-after-steps <n>', 'with --local-workers: checkpoint and stop after n more steps', positiveIntegerOption)
    .option('--sample', 'with --local-workers, for text: print generated text at temperatures 0.5 and 1.0 at the end')
    .option('--allow-numerics-change', "go on with this build's numerics when they differ from the ones the job was computed with")
    .action(async (jobId: string, flags: RunFlags & { allowNumericsChange?: boolean }) => {
      rememberSecrets(flags.redis, flags.store);
      const redis = await connectRun(flags);
      const store = openCommandStore(flags);
      try {
        const record = await readJobRecord(store, jobId);
        const available = await availableProfiles({ backend: record.profile.backend, threads: record.profile.threads }, flags, redis);
        const profile = await profileForResume(store, record, available, flags.allowNumericsChange === true);
        await reopenJob(store, jobId);
        process.exitCode = await runJobFromCli(store, jobId, profile, flags, redis);
      } finally {
        await store.close();
      }
    });
}

function cancelCommand(program: Command): void {
  withRedis(withStore(program.command('cancel')))
    .description('cancel a job: it checkpoints and stops')
    .argument('<job>', 'job id')
    .action(async (jobId: string, flags: ConnectionFlags) => {
      rememberSecrets(flags.redis, flags.store);
      await assertRedisReachable(flags.redis);
      const store = openCommandStore(flags);
      try {
        const outcome = await cancelJob({ store, redisUrl: flags.redis, prefix: flags.queuePrefix }, jobId);
        if (outcome.kind === 'already-ended') info(`job ${jobId} is already ${outcome.state}`);
        else if (outcome.kind === 'requested') info(`job ${jobId}: cancel requested; its coordinator stops at the next step`);
        else info(`job ${jobId}: cancelled`);
      } finally {
        await store.close();
      }
    });
}

function statusCommand(program: Command): void {
  withStore(program.command('status'))
    .description('state of a job, or of every job in the store')
    .argument('[job]', 'job id')
    .option('--json', 'machine-readable output')
    .option('--follow', 'show progress until the job ends (Ctrl-C detaches)')
    .action(async (jobId: string | undefined, flags: ConnectionFlags & { json?: boolean; follow?: boolean }) => {
      rememberSecrets(flags.store);
      const store = openCommandStore(flags);
      try {
        if (jobId !== undefined && flags.follow === true) {
          process.exitCode = await followJob(store, jobId);
          return;
        }
        const statuses =
          jobId === undefined
            ? await Promise.all((await listJobIds(store)).map((id) => jobStatus(store, id)))
            : [await jobStatus(store, jobId)];
        if (flags.json === true) {
          process.stdout.write(`${JSON.stringify(jobId === undefined ? statuses : statuses[0], null, 2)}\n`);
          return;
        }
        if (statuses.length === 0) info(`no jobs in ${store.url}`);
        for (const s of statuses) {
          const losses = `loss ${formatLoss(s.trainLoss)} val ${formatLoss(s.validationLoss)}`;
          const notes = [s.message, s.notice].filter((note) => note !== null).map((note) => `  (${note})`);
          process.stdout.write(
            `${s.id}  ${s.name}  ${s.state}  step ${s.step}/${s.totalSteps}  epoch ${s.epoch + 1}  ${losses}${notes.join('')}\n`,
          );
        }
      } finally {
        await store.close();
      }
    });
}
