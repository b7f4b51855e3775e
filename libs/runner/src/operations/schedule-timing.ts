// When a schedule fires: a cron pattern (in UTC) or a fixed interval, validated; and the
// BullMQ repeat options that carry it into Redis.
import { getNextMillis } from 'bullmq';
import { ScheduleError } from '../errors/schedule-error';

/** When a schedule fires: exactly one of the two is set. */
export interface ScheduleTiming {
  /** A cron pattern (5 fields, or 6 with seconds first), in UTC. */
  readonly cron: string | null;
  /** A fixed interval as written: '30s', '15m', '6h', '1d', or a sum such as '1h30m'. */
  readonly every: string | null;
}

// Cron patterns are read in UTC wherever they are evaluated: BullMQ computes the next time in
// whichever process registers or fires the schedule, and their time zones may differ.
const CRON_TIME_ZONE = 'UTC';
const DURATION = /^(?:\d+[smhd])+$/;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as '30s', '15m', '6h', '1d' or '1h30m'. */
export function parseDuration(text: string): number {
  if (!DURATION.test(text)) throw new ScheduleError(`--every '${text}': expected a duration such as 30s, 15m, 6h or 1d`);
  let ms = 0;
  for (const part of text.matchAll(/(\d+)([smhd])/g)) ms += Number(part[1]) * UNIT_MS[part[2]!]!;
  if (ms < 1_000) throw new ScheduleError(`--every '${text}': must be at least 1s`);
  if (!Number.isSafeInteger(ms)) throw new ScheduleError(`--every '${text}': too long`);
  return ms;
}

/** Returns pattern when BullMQ's cron parser accepts it and it fires at some time. */
export function validateCron(pattern: string): string {
  if (pattern.trim() === '') throw new ScheduleError(`--cron '${pattern}': expected a cron pattern such as '0 3 * * *'`);
  let next: number | undefined;
  try {
    next = getNextMillis(Date.now(), { pattern, tz: CRON_TIME_ZONE });
  } catch (error) {
    throw new ScheduleError(`--cron '${pattern}': ${(error as Error).message}`);
  }
  if (next === undefined) throw new ScheduleError(`--cron '${pattern}': never fires`);
  return pattern;
}

/** The timing that the two flags give: exactly one of them, validated. */
export function scheduleTimingOf(flags: { readonly cron?: string | null; readonly every?: string | null }): ScheduleTiming {
  const cron = flags.cron ?? null;
  const every = flags.every ?? null;
  if (cron !== null && every !== null) throw new ScheduleError('give either --cron or --every, not both');
  if (cron !== null) return { cron: validateCron(cron), every: null };
  if (every !== null) {
    parseDuration(every);
    return { cron: null, every };
  }
  throw new ScheduleError('give --cron EXPR or --every DURATION');
}

export function repeatOptionsOf(timing: ScheduleTiming): { pattern: string; tz: string } | { every: number } {
  return timing.cron !== null ? { pattern: timing.cron, tz: CRON_TIME_ZONE } : { every: parseDuration(timing.every!) };
}
