// Acting on a job from outside its coordinator: reopen it for a resume, or cancel it (through
// its coordinator when one owns it, else in the store).
import { isFinalState, readJobPointer, writeJobPointer, type JobPointer, type JobState } from '@lstm-runner/job-store';
import type { ObjectStore } from '@lstm-runner/storage';
import { connectRedis } from '../redis/redis-connection';
import { cancelKey, leaseKey } from '../redis/redis-layout';

/** How long a cancel request waits in Redis for the job's coordinator. */
const CANCEL_REQUEST_TTL_SECONDS = 86_400;

export interface JobControlConnection {
  readonly store: ObjectStore;
  readonly redisUrl: string;
  readonly prefix: string;
}

/** Marks a stopped, failed or cancelled job runnable again; completed jobs stay completed. */
export async function reopenJob(store: ObjectStore, jobId: string): Promise<JobPointer> {
  const pointer = await readJobPointer(store, jobId);
  if (pointer === null) throw new Error(`no job ${jobId} in ${store.url}`);
  if (pointer.state === 'completed') throw new Error(`job ${jobId} already completed at step ${pointer.checkpoint?.step ?? 0}`);
  if (pointer.state === 'running' || pointer.state === 'queued') return pointer;
  const { message: _message, ...withoutMessage } = pointer;
  const reopened: JobPointer = { ...withoutMessage, state: 'running', updatedAt: new Date().toISOString() };
  await writeJobPointer(store, reopened);
  return reopened;
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
  await writeJobPointer(store, {
    ...pointer,
    state: 'cancelled',
    message: 'cancelled while no coordinator ran it',
    updatedAt: new Date().toISOString(),
  });
  return { kind: 'cancelled' };
}
