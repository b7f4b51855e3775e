/** The coordinator no longer holds the job's lease: another one took over. Stop writing. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly jobId: string,
    readonly token: number,
  ) {
    super(`lost the lease on job ${jobId} (fencing token ${token}): another coordinator owns it now`);
  }
}
