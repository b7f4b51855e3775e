// Redis keys the coordinator and workers share besides BullMQ's own, and how long BullMQ
// keeps finished jobs. Redis holds only work in flight: all of these can be lost; the store
// has the truth.

/** The job's current generation: workers drop shards of other generations; gone = Redis was reset. */
export const generationKey = (prefix: string, jobId: string): string => `${prefix}:generation:${jobId}`;

/** Set by `lstm cancel`; the owning coordinator stops at the next check. */
export const cancelKey = (prefix: string, jobId: string): string => `${prefix}:cancel:${jobId}`;

/** The job's lease: set with NX and a TTL by the coordinator that owns the job; its value is the fencing token. */
export const leaseKey = (prefix: string, jobId: string): string => `${prefix}:lease:${jobId}`;

/** The job's fencing-token counter (tokens only grow). */
export const fenceKey = (prefix: string, jobId: string): string => `${prefix}:fence:${jobId}`;

/**
 * How long finished BullMQ jobs stay when nobody removed them (the coordinator removes a
 * step's jobs after it; one still locked by a straggler, or a control-queue failure, expires).
 */
export const QUEUE_RETENTION_SECONDS = 3600;

/** How long failed control and schedule firings stay in Redis for an operator to look at. */
export const FAILED_RUN_RETENTION_SECONDS = 86_400;

/** A live worker's announcement (JSON, with a TTL it renews): what it serves and does. */
export const workerKey = (prefix: string, workerId: string): string => `${prefix}:worker:${workerId}`;

/** The SCAN pattern of every worker announcement under a prefix. */
export const workerKeyPattern = (prefix: string): string => `${prefix}:worker:*`;
