/** Timed waits that close() can cut short all at once. */
export class Sleepers {
  private readonly wakes = new Set<() => void>();

  /** Resolves after ms (never by itself when ms is Infinity), or at wakeAll(). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakes.delete(wake);
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(wake, ms) : undefined;
      this.wakes.add(wake);
    });
  }

  wakeAll(): void {
    for (const wake of this.wakes) wake();
  }
}
