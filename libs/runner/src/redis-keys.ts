// Redis keys the coordinator and workers share besides BullMQ's own. Redis holds only work
// in flight: all of these can be lost; the store has the truth.

/** The job's current generation: workers drop shards of other generations; gone = Redis was reset. */
export const generationKey = (prefix: string, jobId: string): string => `${prefix}:generation:${jobId}`;

/** Set by `lstm cancel`; the owning coordinator stops at the next check. */
export const cancelKey = (prefix: string, jobId: string): string => `${prefix}:cancel:${jobId}`;

/** Task ids of shard jobs: (job, generation, step, kind, shard); no ':' (BullMQ forbids it). */
export function shardTaskId(jobId: string, generation: number, step: number, kind: 'train' | 'validate', shard: number): string {
  return `${shardTaskPrefix(jobId)}${generation}-s${step}-${kind === 'train' ? 't' : 'v'}${shard}`;
}

/** Every task id of the job starts with this, followed by the generation. */
export function shardTaskPrefix(jobId: string): string {
  return `j-${jobId}-g`;
}
