// Identifiers that become path segments of storage keys (and parts of queue names and BullMQ
// job ids): a safe charset that is the same on S3 and on every file system, that cannot
// form '.', '..' or hidden names, and that holds no ':' (BullMQ reserves it).
import { InvalidIdentifierError } from './errors/invalid-identifier-error';

/** Job, dataset and schedule ids: lowercase, so ids never collide on case-insensitive disks. */
const LOWERCASE_ID = /^[a-z0-9][a-z0-9._-]*$/;
/** Model names are job spec names, which may use capitals (see spec.ts). */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkIdentifier(what: string, value: unknown, pattern: RegExp, maxLength: number, charset: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    throw new InvalidIdentifierError(what, value, `use ${charset}, starting with a letter or digit`);
  }
  if (value.length > maxLength) throw new InvalidIdentifierError(what, value, `at most ${maxLength} characters`);
  return value;
}

const LOWERCASE_CHARSET = "lowercase letters, digits, '.', '_' and '-'";

/** Returns jobId, or throws InvalidIdentifierError. */
export function validateJobId(jobId: unknown): string {
  return checkIdentifier('job id', jobId, LOWERCASE_ID, 100, LOWERCASE_CHARSET);
}

/** Returns datasetId (e.g. 'text-<32 hex>', see @lstm-runner/data), or throws InvalidIdentifierError. */
export function validateDatasetId(datasetId: unknown): string {
  return checkIdentifier('dataset id', datasetId, LOWERCASE_ID, 100, LOWERCASE_CHARSET);
}

/** Returns scheduleId, or throws InvalidIdentifierError. */
export function validateScheduleId(scheduleId: unknown): string {
  return checkIdentifier('schedule id', scheduleId, LOWERCASE_ID, 100, LOWERCASE_CHARSET);
}

/** Returns name (a job spec's name), or throws InvalidIdentifierError. */
export function validateModelName(name: unknown): string {
  return checkIdentifier('model name', name, MODEL_NAME, 100, "letters, digits, '.', '_' and '-'");
}

/** Returns value when it is an integer in [0, max], or throws InvalidIdentifierError. */
export function validateCounter(what: string, value: unknown, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new InvalidIdentifierError(what, value, `must be an integer from 0 to ${max}`);
  }
  return value;
}
