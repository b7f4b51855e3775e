/** A job id the store has no job for (the API answers 404). */
export class UnknownJobError extends Error {
  override readonly name = 'UnknownJobError';

  constructor(
    readonly jobId: string,
    storeUrl: string,
  ) {
    super(`no job ${jobId} in ${storeUrl}`);
  }
}
