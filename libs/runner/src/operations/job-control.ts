// Acting on a job from outside its coordinator: reopen it for a resume (on which numerics
// build), or cancel it (through its coordinator when one owns it, else in the store).
import {
  isFinalState,
  readJobPointer,
  readJobRecord,
  updateJobPointer,
  writeJobRecord,
  type JobPointer,
  type JobRecord,
  type JobState,
} from '@lstm-runner/job-store';
import { formatNumericsProfile, formatProfileFamily, parseNumericsProfile, type NumericsProfile } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { connectRedis } from '../redis/redis-connection';
import { cancelKey, leaseKey } from '../redis/redis-layout';
import { enqueueJobRun } from './coordinator-service';
import { servedProfilesAt } from './worker-registry';

/** How long a cancel request waits in Redis for the job's coordinator. */
const CANCEL_REQUEST_TTL_SECONDS = 86_400;

export interface JobControlConnection {
  readonly store: ObjectStore;
  readonly redisUrl: string;
  readonly prefix: string;
}

/** Marks a stopped, failed or cancelled job runnable again; completed jobs stay completed. */
export async function reopenJob(store: ObjectStore, jobId: string): Promise<JobPointer> {
  const reopened = await updateJobPointer(store, jobId, null, (pointer) => {
    if (pointer === null) throw new Error(`no job ${jobId} in ${store.url}`);
    if (pointer.state === 'completed') throw new Error(`job ${jobId} already completed at step ${pointer.checkpoint?.step ?? 0}`);
    if (pointer.state === 'running' || pointer.state === 'queued') return null;
    const { message: _message, ...withoutMessage } = pointer;
    return { ...withoutMessage, state: 'running', updatedAt: new Date().toISOString() };
  });
  return reopened!;
}

export type CancelOutcome =
  /** Nothing to do: the job had ended already. */
  | { readonly kind: 'already-ended'; readonly state: JobState }
  /** A coordinator owns the job: it checkpoints and stops at its next step. */
  | { readonly kind: 'requested' }
  /** No coordinator ran it: the store now says cancelled. */
  | { readonly kind: 'cancelled' };

export async function cancelJob(connection: JobControlConnection, jobId: string): Promise<CancelOutcome> {
  const { store, prefix } = connection;
  const pointer = await readJobPointer(store, jobId);
  if (pointer === null) throw new Error(`no job ${jobId} in ${store.url}`);
  if (isFinalState(pointer.state)) return { kind: 'already-ended', state: pointer.state };
  const redis = connectRedis(connection.redisUrl);
  try {
    if ((await redis.exists(leaseKey(prefix, jobId))) === 1) {
      await redis.set(cancelKey(prefix, jobId), '1', 'EX', CANCEL_REQUEST_TTL_SECONDS);
      return { kind: 'requested' };
    }
  } finally {
    redis.disconnect();
  }
  // Only the pointer seen above: a coordinator that took the job meanwhile wrote its token,
  // and then the cancel goes to it through Redis (the next round).
  let superseded = false;
  await updateJobPointer(store, jobId, null, (current) => {
    superseded = current === null || current.fencingToken !== pointer.fencingToken || current.state !== pointer.state;
    if (superseded) return null;
    return { ...pointer, state: 'cancelled', message: 'cancelled while no coordinator ran it', updatedAt: new Date().toISOString() };
  });
  return superseded ? cancelJob(connection, jobId) : { kind: 'cancelled' };
}

/**
 * The profile a resumed job continues on. Its own, unless no live worker serves it and one
 * of the same backend, threads and instruction set but another build does (an upgrade): then
 * the job moves to that build only when `allowNumericsChange` says so (its bits will differ
 * from an undisturbed run's from here on), and otherwise the resume is refused with a
 * message that says why.
 */
export async function profileForResume(
  store: ObjectStore,
  record: JobRecord,
  available: readonly string[],
  allowNumericsChange: boolean,
): Promise<NumericsProfile> {
  const own = formatNumericsProfile(record.profile);
  if (available.includes(own)) return record.profile;
  const family = formatProfileFamily(record.profile);
  const other = available.map((text) => parseNumericsProfile(text)).find((profile) => formatProfileFamily(profile) === family);
  if (other === undefined) return record.profile;
  if (!allowNumericsChange) {
    throw new Error(
      `job ${record.id} was computed with numerics build ${record.profile.build ?? '(unrecorded)'} (${own}); this code computes ${formatNumericsProfile(other)}: ` +
        `its results would no longer be bit-identical to an undisturbed run. Resume with --allow-numerics-change to go on with the new build`,
    );
  }
  await writeJobRecord(store, { ...record, profile: other });
  return other;
}

/** Marks a job that no coordinator runs failed, with the reason (a run that died before its first step). */
export async function markJobFailed(store: ObjectStore, jobId: string, message: string): Promise<void> {
  await updateJobPointer(store, jobId, null, (pointer) =>
    pointer === null || isFinalState(pointer.state) ? null : { ...pointer, state: 'failed', message, updatedAt: new Date().toISOString() },
  );
}

/**
 * `lstm resume JOB` without local workers, as the dashboard does it: checks that live workers
 * can go on with the job's numerics (else the one-line reason of profileForResume), reopens
 * the job and puts a run of it on the control queue for a coordinator service.
 */
export async function resumeThroughService(connection: JobControlConnection, jobId: string): Promise<JobPointer> {
  const { store, redisUrl, prefix } = connection;
  const record = await readJobRecord(store, jobId);
  await profileForResume(store, record, await servedProfilesAt(redisUrl, prefix), false);
  const pointer = await reopenJob(store, jobId);
  await enqueueJobRun(redisUrl, prefix, jobId);
  return pointer;
}
