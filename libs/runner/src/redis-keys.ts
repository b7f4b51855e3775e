// Redis keys the coordinator and workers share besides BullMQ's own. Redis holds only work
// in flight: all of these can be lost; the store has the truth.

/** The job's current generation: workers drop shards of other generations; gone = Redis was reset. */
export const generationKey = (prefix: string, jobId: string): string => `${prefix}:generation:${jobId}`;

/** Set by `lstm cancel`; the owning coordinator stops at the next check. */
export const cancelKey = (prefix: string, jobId: string): string => `${prefix}:cancel:${jobId}`;
