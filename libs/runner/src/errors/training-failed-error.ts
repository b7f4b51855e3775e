/** The job cannot go on: a shard failed for good, a loss became non-finite, bad data. */
export class TrainingFailedError extends Error {
  override readonly name = 'TrainingFailedError';
  constructor(
    readonly jobId: string,
    message: string,
  ) {
    super(`job ${jobId}: ${message}`);
  }
}
