/** A schedule that cannot be registered, read or found: a bad cron or duration, a missing file. */
export class ScheduleError extends Error {
  override readonly name = 'ScheduleError';
}
