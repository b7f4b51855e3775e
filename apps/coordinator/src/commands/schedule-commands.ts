// lstm schedule | schedules: wiring of libs/runner's scheduled retraining.
import { resolve } from 'node:path';
import { Command } from 'commander';
import { loadJobSpec } from '@lstm-runner/protocol';
import {
  assertRedisReachable,
  listSchedules,
  registerSchedule,
  removeSchedule,
  scheduleTimingOf,
  servedProfilesAt,
  type ScheduleSummary,
} from '@lstm-runner/runner';
import { info, openCommandStore, positiveIntegerOption, rememberSecrets, withRedis, withStore, type ConnectionFlags } from '../cli-context';
import { profileOf } from './job-commands';

type ScheduleFlags = ConnectionFlags & { readonly json?: boolean };

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function describeTiming(schedule: ScheduleSummary): string {
  return schedule.cron !== null ? `cron '${schedule.cron}'` : `every ${schedule.every ?? '?'}`;
}

export function scheduleCommands(program: Command): void {
  withRedis(withStore(program.command('schedule')))
    .description('retrain a model on a schedule: each firing trains the spec on the data as it is then, starting from the model')
    .argument('<spec>', 'job spec (YAML or JSON); its data.source is read by the coordinator service at every firing')
    .option('--cron <expr>', "cron pattern in UTC, e.g. '0 3 * * *'")
    .option('--every <duration>', 'fixed interval, e.g. 30s, 15m, 6h, 1d')
    .option('--keep <n>', 'after each firing, keep the last N versions of the model and the production one', positiveIntegerOption)
    .option('--json', 'machine-readable output')
    .action(async (specPath: string, flags: ScheduleFlags & { cron?: string; every?: string; keep?: number }) => {
      rememberSecrets(flags.redis, flags.store);
      const timing = scheduleTimingOf(flags);
      const spec = await loadJobSpec(resolve(specPath));
      await assertRedisReachable(flags.redis);
      const store = openCommandStore(flags);
      try {
        const profile = await profileOf(spec, await servedProfilesAt(flags.redis, flags.queuePrefix));
        const schedule = await registerSchedule(
          { store, redisUrl: flags.redis, prefix: flags.queuePrefix },
          { spec, timing, profile, ...(flags.keep === undefined ? {} : { keep: flags.keep }) },
        );
        if (flags.json === true) {
          printJson(schedule);
          return;
        }
        info(`schedule ${schedule.id}: ${schedule.name} ${describeTiming(schedule)}, next run ${schedule.nextRunAt ?? 'unknown'}`);
        process.stdout.write(`${schedule.id}\n`);
      } finally {
        await store.close();
      }
    });

  withRedis(withStore(program.command('schedules')))
    .description('list the schedules (or remove one)')
    .option('--remove <id>', 'remove this schedule from the store and from Redis (jobs it started are left alone)')
    .option('--json', 'machine-readable output')
    .action(async (flags: ScheduleFlags & { remove?: string }) => {
      rememberSecrets(flags.redis, flags.store);
      const store = openCommandStore(flags);
      const connection = { store, redisUrl: flags.redis, prefix: flags.queuePrefix };
      try {
        if (flags.remove !== undefined) {
          await removeSchedule(connection, flags.remove);
          if (flags.json === true) printJson({ removed: flags.remove });
          else info(`schedule ${flags.remove}: removed`);
          return;
        }
        const schedules = await listSchedules(connection);
        if (flags.json === true) {
          printJson(schedules);
          return;
        }
        if (schedules.length === 0) info(`no schedules in ${store.url}`);
        for (const s of schedules) {
          const last = s.lastJobId === null ? 'last job -' : `last job ${s.lastJobId}: ${s.lastOutcome ?? '?'}`;
          process.stdout.write(`${s.id}  ${s.name}  ${describeTiming(s)}  next ${s.nextRunAt ?? '-'}  ${last}\n`);
        }
      } finally {
        await store.close();
      }
    });
}
