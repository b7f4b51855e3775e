/** A compute thread died (an uncaught error or an exit) while it held a shard, or before its backend loaded. */
export class ComputeThreadError extends Error {
  override readonly name = 'ComputeThreadError';
}
