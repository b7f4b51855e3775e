// Scheduled retraining. A schedule is a job spec plus a timing (a cron pattern or a fixed
// interval). schedules/<id>.json in the store is the truth; Redis holds a mirror, one BullMQ
// job scheduler per schedule on the schedules queue, which every coordinator service upserts
// again at start (an idempotent upsert), so a Redis that lost everything gets them back.
// Each firing creates a job on the data as it is at that moment, encoded like the model's
// dataset and warm-started from the model's production version (in a store of an earlier
// release, models/<name>/latest.json). Its completion is gated like any run's
// (training/model-publishing.ts); `lstm schedules` shows the last firing's outcome.
import { stat } from 'node:fs/promises';
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadManifest } from '@lstm-runner/data';
import { listModelVersions, readJobPointer, readJobRecord, readProductionAlias, readProductionModel } from '@lstm-runner/job-store';
import {
  formatNumericsProfile,
  formatProfileFamily,
  parseNumericsProfile,
  scheduleKey,
  validateScheduleId,
  type JobSpec,
  type NumericsProfile,
} from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { ScheduleError } from '../errors/schedule-error';
import { connectRedis, redisOptionsFromUrl } from '../redis/redis-connection';
import { FAILED_RUN_RETENTION_SECONDS } from '../redis/redis-layout';
import { openDataSource } from './data-source';
import { createJob, newJobId } from './job-submission';
import { listLiveWorkers, servedProfiles } from './worker-registry';
import { listScheduleIds, readSchedule, writeSchedule, type ScheduleRecord } from './schedule-records';
import { repeatOptionsOf, scheduleTimingOf, type ScheduleTiming } from './schedule-timing';

/** The BullMQ queue of schedule firings, served by every coordinator service. */
export const SCHEDULES_QUEUE_NAME = 'lstm-schedules';

/** What `lstm schedules` shows (its --json shape). */
export interface ScheduleSummary extends ScheduleTiming {
  readonly id: string;
  readonly name: string;
  /** ISO time of the next firing, when Redis has the schedule. */
  readonly nextRunAt: string | null;
  readonly lastJobId: string | null;
  /** What the last firing came to: running, promoted, not promoted, failed, cancelled (null: none yet). */
  readonly lastOutcome: string | null;
}

/** The data of a firing job. */
export interface ScheduleFiring {
  readonly scheduleId: string;
}

export type FiringOutcome =
  | { readonly kind: 'started'; readonly jobId: string; readonly warmStartFrom: string | null }
  | { readonly kind: 'skipped'; readonly reason: string }
  /** The store has no such schedule any more (removed while Redis kept its mirror). */
  | { readonly kind: 'removed' };

/** Where schedules live: the store (the truth) and Redis under a BullMQ prefix (the mirror). */
export interface ScheduleConnection {
  readonly store: ObjectStore;
  readonly redisUrl: string;
  readonly prefix: string;
}

async function withSchedulesQueue<T>(connection: ScheduleConnection, use: (queue: Queue<ScheduleFiring>) => Promise<T>): Promise<T> {
  const queue = new Queue<ScheduleFiring>(SCHEDULES_QUEUE_NAME, {
    connection: redisOptionsFromUrl(connection.redisUrl),
    prefix: connection.prefix,
  });
  try {
    return await use(queue);
  } finally {
    await queue.close();
  }
}

/** Creates or updates the schedule's BullMQ job scheduler (idempotent). */
async function mirrorSchedule(queue: Queue<ScheduleFiring>, schedule: ScheduleRecord): Promise<void> {
  await queue.upsertJobScheduler(schedule.id, repeatOptionsOf(schedule), {
    name: 'retrain',
    data: { scheduleId: schedule.id },
    opts: { removeOnComplete: true, removeOnFail: { age: FAILED_RUN_RETENTION_SECONDS } },
  });
}

/** What the schedule's last job came to: its state, or for a completed one whether its version was promoted. */
export async function lastOutcomeOf(store: ObjectStore, schedule: ScheduleRecord): Promise<string | null> {
  if (schedule.lastJobId === null) return null;
  const pointer = await readJobPointer(store, schedule.lastJobId);
  if (pointer === null) return null;
  if (pointer.state !== 'completed') return pointer.state;
  const version = (await listModelVersions(store, schedule.name)).find((v) => v.jobId === pointer.id);
  if (version === undefined) return 'completed';
  const production = (await readProductionAlias(store, schedule.name))?.version;
  const figures = version.evaluation === null ? '' : ` (${version.reason})`;
  return `${version.promoted ? 'promoted' : 'not promoted'}: v${version.version}${production === version.version ? ' is production' : ''}${figures}`;
}

async function summaryOf(queue: Queue<ScheduleFiring>, schedule: ScheduleRecord, store: ObjectStore): Promise<ScheduleSummary> {
  const next = (await queue.getJobScheduler(schedule.id))?.next;
  return {
    id: schedule.id,
    name: schedule.name,
    cron: schedule.cron,
    every: schedule.every,
    nextRunAt: next === undefined ? null : new Date(next).toISOString(),
    lastJobId: schedule.lastJobId,
    lastOutcome: await lastOutcomeOf(store, schedule),
  };
}

export interface ScheduleRequest {
  /** data.source resolved (loadJobSpec does it): the coordinator service reads it at every firing. */
  readonly spec: JobSpec;
  readonly timing: ScheduleTiming;
  readonly profile: NumericsProfile;
  /** Keep the last N versions (and production) after each firing; undefined: keep all. */
  readonly keep?: number;
}

/** Writes schedules/<id>.json, then mirrors it into Redis. */
export async function registerSchedule(connection: ScheduleConnection, request: ScheduleRequest): Promise<ScheduleSummary> {
  const { spec } = request;
  const timing = scheduleTimingOf(request.timing);
  const source = spec.data.source;
  if (
    !source.startsWith('s3://') &&
    !(await stat(source).then(
      (s) => s.isFile(),
      () => false,
    ))
  ) {
    throw new ScheduleError(`data.source ${source} is not a file; the coordinator service reads it at every firing`);
  }
  const schedule: ScheduleRecord = {
    version: 1,
    // Job ids have what a schedule id needs: valid in keys, sortable by creation, unique.
    id: newJobId(spec.name),
    name: spec.name,
    ...timing,
    spec,
    profile: request.profile,
    createdAt: new Date().toISOString(),
    lastJobId: null,
    ...(request.keep === undefined ? {} : { keep: request.keep }),
  };
  // The store first: a mirror that failed is repaired when a coordinator service starts.
  await writeSchedule(connection.store, schedule);
  return withSchedulesQueue(connection, async (queue) => {
    await mirrorSchedule(queue, schedule);
    return summaryOf(queue, schedule, connection.store);
  });
}

export async function listSchedules(connection: ScheduleConnection): Promise<ScheduleSummary[]> {
  const schedules: ScheduleRecord[] = [];
  for (const id of await listScheduleIds(connection.store)) {
    const schedule = await readSchedule(connection.store, id);
    if (schedule !== null) schedules.push(schedule);
  }
  return withSchedulesQueue(connection, (queue) => Promise.all(schedules.map((schedule) => summaryOf(queue, schedule, connection.store))));
}

/** Removes the schedule from the store, then its mirror from Redis. Jobs it started are left alone. */
export async function removeSchedule(connection: ScheduleConnection, scheduleId: string): Promise<void> {
  const key = scheduleKey(validateScheduleId(scheduleId));
  const stored = (await connection.store.head(key)) !== null;
  if (stored) await connection.store.delete(key);
  const mirrored = await withSchedulesQueue(connection, (queue) => queue.removeJobScheduler(scheduleId));
  if (!stored && !mirrored) throw new ScheduleError(`no schedule ${scheduleId} in ${connection.store.url}`);
}

/**
 * The profile a firing's job records: the schedule's, or, when live workers serve its backend,
 * threads and instruction set only in another build (they were upgraded), that build: a new
 * job may start on new numerics, and a job on the old build would wait for nobody.
 */
function firingProfile(profile: NumericsProfile, served: readonly string[]): NumericsProfile {
  if (served.includes(formatNumericsProfile(profile))) return profile;
  const family = formatProfileFamily(profile);
  return served.map((text) => parseNumericsProfile(text)).find((candidate) => formatProfileFamily(candidate) === family) ?? profile;
}

/**
 * One firing: creates the schedule's next job (queued; the caller submits it), unless the
 * previous one still runs. The model's production checkpoint, when there is one, starts it
 * and its dataset's vocabulary or normalization encodes the new data.
 */
export async function fireSchedule(
  store: ObjectStore,
  scheduleId: string,
  s3Endpoint?: string,
  served: readonly string[] = [],
): Promise<FiringOutcome> {
  const schedule = await readSchedule(store, scheduleId);
  if (schedule === null) return { kind: 'removed' };
  if (schedule.lastJobId !== null) {
    const previous = await readJobPointer(store, schedule.lastJobId);
    if (previous !== null && (previous.state === 'queued' || previous.state === 'running')) {
      return { kind: 'skipped', reason: `its job ${previous.id} is still ${previous.state}` };
    }
    // Completed, its version not yet written: a firing now would start from the production before it.
    if (previous?.state === 'completed' && previous.published === false) {
      return { kind: 'skipped', reason: `its job ${previous.id} is still publishing its model` };
    }
  }
  const model = await readProductionModel(store, schedule.name);
  const created = await createJob({
    store,
    spec: schedule.spec,
    source: await openDataSource(schedule.spec.data.source, s3Endpoint),
    profile: firingProfile(schedule.profile, served),
    scheduleId,
    ...(model === null
      ? {}
      : {
          warmStartFrom: model.checkpoint,
          encodeLike: await loadManifest(store, model.datasetId),
          warmStartModel: (await readJobRecord(store, model.jobId)).model,
        }),
  });
  // A schedule removed meanwhile stays removed.
  if ((await store.head(scheduleKey(scheduleId))) !== null) await writeSchedule(store, { ...schedule, lastJobId: created.record.id });
  return { kind: 'started', jobId: created.record.id, warmStartFrom: model?.checkpoint ?? null };
}

export interface ScheduleRunnerOptions extends ScheduleConnection {
  /** Endpoint for s3:// data sources; default S3_ENDPOINT (see openStore). */
  readonly s3Endpoint?: string | undefined;
  /** Hands a created job to the coordinators (the service puts it on the control queue). */
  readonly submitJob: (jobId: string) => Promise<void>;
  readonly log: (line: string) => void;
}

/** A firing that outlives this is assumed dead: the schedule may fire again. */
const FIRING_LOCK_TTL_MS = 3_600_000;

/**
 * The coordinator service's part of scheduled retraining: restores every schedule of the
 * store into Redis, then processes firings one at a time.
 */
export class ScheduleRunner {
  private readonly options: ScheduleRunnerOptions;
  private readonly queue: Queue<ScheduleFiring>;
  private readonly redis: Redis;
  private worker: Worker<ScheduleFiring, FiringOutcome> | undefined;
  private closing: Promise<void> | undefined;

  constructor(options: ScheduleRunnerOptions) {
    this.options = options;
    this.queue = new Queue<ScheduleFiring>(SCHEDULES_QUEUE_NAME, {
      connection: redisOptionsFromUrl(options.redisUrl),
      prefix: options.prefix,
    });
    this.redis = connectRedis(options.redisUrl);
  }

  async start(): Promise<void> {
    const { options } = this;
    await this.restore();
    this.worker = new Worker<ScheduleFiring, FiringOutcome>(SCHEDULES_QUEUE_NAME, (job) => this.fire(job.data.scheduleId), {
      connection: redisOptionsFromUrl(options.redisUrl),
      prefix: options.prefix,
      concurrency: 1,
    });
    this.worker.on('error', (error) => options.log(`schedules queue: ${error.message}`));
    this.worker.on('failed', (job, error) => options.log(`schedule ${job?.data.scheduleId ?? '?'}: firing failed: ${error.message}`));
  }

  /** Upserts every schedule of the store into Redis. */
  private async restore(): Promise<void> {
    const { store, log } = this.options;
    let restored = 0;
    for (const id of await listScheduleIds(store)) {
      try {
        const schedule = await readSchedule(store, id);
        if (schedule === null) continue;
        await mirrorSchedule(this.queue, schedule);
        restored += 1;
      } catch (error) {
        log(`schedule ${id}: not restored: ${(error as Error).message}`);
      }
    }
    if (restored > 0) log(`restored ${restored} schedule${restored === 1 ? '' : 's'} into Redis`);
  }

  private async fire(scheduleId: string): Promise<FiringOutcome> {
    const { log } = this.options;
    // Services fire one at a time each; this key keeps two services from firing one schedule
    // at once (the second would not see the first's job yet and start another).
    const lock = `${this.options.prefix}:schedule-firing:${scheduleId}`;
    if ((await this.redis.set(lock, '1', 'PX', FIRING_LOCK_TTL_MS, 'NX')) === null) {
      log(`schedule ${scheduleId}: firing skipped: another coordinator is firing it`);
      return { kind: 'skipped', reason: 'another coordinator is firing it' };
    }
    try {
      const served = servedProfiles(await listLiveWorkers(this.redis, this.options.prefix));
      const outcome = await fireSchedule(this.options.store, scheduleId, this.options.s3Endpoint, served);
      if (outcome.kind === 'removed') {
        await this.queue.removeJobScheduler(scheduleId);
        log(`schedule ${scheduleId}: not in the store any more; removed from Redis`);
      } else if (outcome.kind === 'skipped') {
        log(`schedule ${scheduleId}: firing skipped: ${outcome.reason}`);
      } else {
        await this.options.submitJob(outcome.jobId);
        log(
          `schedule ${scheduleId}: started job ${outcome.jobId}${outcome.warmStartFrom === null ? ' (no model yet: fresh weights)' : ` from ${outcome.warmStartFrom}`}`,
        );
      }
      return outcome;
    } finally {
      await this.redis.del(lock);
    }
  }

  /** Finishes the firing in hand and stops. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.worker?.close();
      await this.queue.close();
      this.redis.disconnect();
    })();
    return this.closing;
  }
}
