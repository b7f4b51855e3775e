// The soak's view of its job, from the store only (Redis is one of the things it breaks): the
// step of the latest metric record, the furthest step seen, when a step last completed, and
// the job's state. Polled in the background while the faults are carried out.
import { readJobPointer, readLastMetric } from '@lstm-runner/job-store';
import type { ObjectStore } from '@lstm-runner/storage';

const FINAL_STATES = new Set(['completed', 'failed', 'cancelled']);

export class JobWatch {
  /** The step of the latest metric record (it goes back when a generation replays steps). */
  step = 0;
  /** The furthest step any record showed. */
  maxStep = 0;
  /** Date.now() of the latest step record seen (its wallTimeMs). */
  lastStepAt = 0;
  state = 'queued';
  message: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: ObjectStore,
    private readonly jobId: string,
    private readonly everyMs = 150,
  ) {}

  start(): void {
    const tick = (): void => {
      this.polling = this.poll().finally(() => {
        if (this.timer !== undefined) this.timer = setTimeout(tick, this.everyMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.polling;
  }

  get final(): boolean {
    return FINAL_STATES.has(this.state);
  }

  /** One look at the store (the driver's own store has no injected faults; a failed look is skipped). */
  async poll(): Promise<void> {
    try {
      const [metric, pointer] = await Promise.all([readLastMetric(this.store, this.jobId), readJobPointer(this.store, this.jobId)]);
      if (metric !== null) {
        this.step = metric.step;
        this.maxStep = Math.max(this.maxStep, metric.step);
        this.lastStepAt = Math.max(this.lastStepAt, metric.wallTimeMs);
      }
      if (pointer !== null) {
        this.state = pointer.state;
        this.message = pointer.message ?? null;
      }
    } catch {
      // A chunk replaced between the listing and the read: the next look sees the new one.
    }
  }

  /**
   * Waits until `done` holds (true), the job ends (true when done holds then too), or no step
   * completes for stallMs (false: the job is stuck).
   */
  async until(done: () => boolean, stallMs: number): Promise<boolean> {
    let progressAt = Date.now();
    let seen = this.lastStepAt;
    for (;;) {
      if (done()) return true;
      if (this.final) return done();
      if (this.lastStepAt !== seen) {
        seen = this.lastStepAt;
        progressAt = Date.now();
      }
      if (Date.now() - progressAt > stallMs) return false;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
