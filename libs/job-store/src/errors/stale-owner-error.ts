/**
 * A write of a coordinator whose fencing token is no longer the job's: another coordinator
 * took the job over (its token, higher, is in the job pointer). The write did not happen.
 */
export class StaleOwnerError extends Error {
  override readonly name = 'StaleOwnerError';

  constructor(
    readonly jobId: string,
    readonly token: number,
    readonly currentToken: number,
  ) {
    super(
      `job ${jobId}: fencing token ${token} is stale (the job pointer holds ${currentToken}): another coordinator owns the job; nothing was written`,
    );
  }
}
