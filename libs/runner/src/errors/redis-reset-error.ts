/** Redis came back empty (the job's generation sentinel is gone): recover from the store. */
export class RedisResetError extends Error {
  override readonly name = 'RedisResetError';
  constructor(readonly jobId: string) {
    super(`Redis lost the state of job ${jobId} (its generation sentinel is gone); resuming from the last checkpoint`);
  }
}
