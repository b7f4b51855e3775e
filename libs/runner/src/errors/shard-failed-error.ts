/** A shard failed on every attempt (and on its duplicate, if it had one). */
export class ShardFailedError extends Error {
  override readonly name = 'ShardFailedError';
  constructor(
    readonly taskId: string,
    readonly shard: number,
    readonly attempts: number,
    readonly reason: string,
  ) {
    super(`shard ${shard} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${reason}`);
  }
}
