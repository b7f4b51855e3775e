// schedules/<id>.json: a schedule as the store keeps it (the truth; Redis holds a mirror).
import { mapping, nonEmptyString, positiveInteger } from '@lstm-runner/lstm-core';
import { readStoredJsonIfExists, writeStoredJson } from '@lstm-runner/job-store';
import {
  jobSpecSchema,
  numericsProfileSchema,
  parseStoreKey,
  scheduleKey,
  SCHEDULES_PREFIX,
  type JobSpec,
  type NumericsProfile,
} from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import * as z from 'zod';
import { ScheduleError } from '../errors/schedule-error';
import { scheduleTimingOf, type ScheduleTiming } from './schedule-timing';

/** schedules/<id>.json */
export interface ScheduleRecord extends ScheduleTiming {
  readonly version: 1;
  readonly id: string;
  /** The model it retrains: the spec's name. */
  readonly name: string;
  /** The spec as submitted, data.source resolved: the coordinator reads it at every firing. */
  readonly spec: JobSpec;
  readonly profile: NumericsProfile;
  readonly createdAt: string;
  /** The job of the latest firing; a firing while it still runs is skipped. */
  readonly lastJobId: string | null;
  /** Versions kept after each firing's publishing: the last N and production (absent: all). */
  readonly keep?: number;
}

const scheduleRecordSchema = mapping({
  version: z.literal(1),
  id: nonEmptyString(),
  name: nonEmptyString(),
  cron: z.string().nullable(),
  every: z.string().nullable(),
  spec: jobSpecSchema,
  profile: numericsProfileSchema,
  createdAt: nonEmptyString(),
  lastJobId: nonEmptyString().nullable(),
  keep: positiveInteger().exactOptional(),
}) satisfies z.ZodType<ScheduleRecord>;

export async function writeSchedule(store: ObjectStore, schedule: ScheduleRecord): Promise<void> {
  await writeStoredJson(store, scheduleKey(schedule.id), schedule);
}

/** The schedule, checked; null when the store has no such schedule. */
export async function readSchedule(store: ObjectStore, scheduleId: string): Promise<ScheduleRecord | null> {
  const key = scheduleKey(scheduleId);
  const schedule = await readStoredJsonIfExists(store, key, scheduleRecordSchema);
  if (schedule === null) return null;
  if (schedule.id !== scheduleId) throw new ScheduleError(`${key}: holds schedule ${schedule.id}, not ${scheduleId}`);
  try {
    scheduleTimingOf(schedule);
  } catch (error) {
    throw new ScheduleError(`${key}: ${(error as Error).message}`);
  }
  return schedule;
}

export async function listScheduleIds(store: ObjectStore): Promise<string[]> {
  const ids: string[] = [];
  for (const key of await store.list(SCHEDULES_PREFIX)) {
    const info = parseStoreKey(key);
    if (info?.kind === 'schedule') ids.push(info.scheduleId);
  }
  return ids;
}
