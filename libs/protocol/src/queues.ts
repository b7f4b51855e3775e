// BullMQ queue names. One gradient queue per numerics profile, so a worker only ever sees
// shards it can compute bit-identically; one control queue where clients submit job runs to
// the coordinator service. Tests isolate themselves with their own BullMQ prefix.
import { InvalidIdentifierError } from './errors/invalid-identifier-error';
import { formatNumericsProfile, type NumericsProfile } from './numerics-profile';

/** BullMQ's key prefix for all our queues (BullMQ's own default is 'bull'). */
export const DEFAULT_QUEUE_PREFIX = 'lstm';
/** Job runs submitted to the `lstm coordinator` service. */
export const CONTROL_QUEUE_NAME = 'lstm-control';
const GRADIENT_QUEUE_PREFIX = 'lstm-gradients-';

/** The queue of shards for workers of this profile, e.g. 'lstm-gradients-wasm-t1'. No ':'. */
export function gradientQueueName(profile: NumericsProfile): string {
  return GRADIENT_QUEUE_PREFIX + formatNumericsProfile(profile);
}

// Redis Cluster hash tags ({...}) are allowed; ':' is left out because our own Redis keys
// join prefix and name with it.
const QUEUE_PREFIX = /^[A-Za-z0-9{}._-]{1,64}$/;

/** Returns prefix when it can serve as a BullMQ prefix, or throws InvalidIdentifierError. */
export function validateQueuePrefix(prefix: string): string {
  if (!QUEUE_PREFIX.test(prefix)) {
    throw new InvalidIdentifierError('queue prefix', prefix, "use 1 to 64 letters, digits, '.', '_', '-', '{' or '}'");
  }
  return prefix;
}
