// Watches, for a running job, whether any live worker serves its numerics profile. After a
// grace period without one it says so once, in the coordinator's log and in the job pointer
// (where `lstm status` and `--follow` read it), naming the profiles that are served; when a
// worker of the profile appears it clears the notice.
import type { WorkerWait } from '@lstm-runner/job-store';

export interface WorkerWatchOptions {
  /** How often to look at the live workers. */
  readonly checkEveryMs: number;
  /** How long a profile may go unserved before it is reported. */
  readonly noticeAfterMs: number;
}

export const DEFAULT_WORKER_WATCH_OPTIONS: WorkerWatchOptions = { checkEveryMs: 5_000, noticeAfterMs: 30_000 };

export class WorkerWatch {
  private lastLook = Number.NEGATIVE_INFINITY;
  private unservedSince: number | null = null;
  private reported = false;
  /** A step completed since the last look: some worker serves the profile. */
  private progressed = false;

  constructor(
    private readonly profile: string,
    private readonly options: WorkerWatchOptions,
    /** The profiles live workers serve now. */
    private readonly servedProfiles: () => Promise<string[]>,
    /** Called with the wait when it is first reported, and with null when it ends. */
    private readonly report: (wait: WorkerWait | null) => Promise<void>,
  ) {}

  /** A step of the job completed: workers serve its profile (the next look clears a notice at once). */
  noteProgress(): void {
    this.progressed = true;
  }

  /** Looks at the workers when it is time to; cheap to call often. */
  async look(now = Date.now()): Promise<void> {
    if (this.progressed) {
      this.progressed = false;
      this.unservedSince = null;
      if (this.reported) {
        this.reported = false;
        await this.report(null);
      }
      return;
    }
    if (now - this.lastLook < this.options.checkEveryMs) return;
    this.lastLook = now;
    const served = await this.servedProfiles();
    if (served.includes(this.profile)) {
      this.unservedSince = null;
      if (this.reported) {
        this.reported = false;
        await this.report(null);
      }
      return;
    }
    this.unservedSince ??= now;
    if (!this.reported && now - this.unservedSince >= this.options.noticeAfterMs) {
      this.reported = true;
      await this.report({ profile: this.profile, since: new Date(this.unservedSince).toISOString(), servedProfiles: served });
    }
  }
}
