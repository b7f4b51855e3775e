// The peak resident set of benchmarked processes, read from /proc (Linux): VmHWM is the
// kernel's own high-water mark of a process (its threads included), so sampling it now and
// then still sees the peak, up to the last sample before the process ends.
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** VmHWM (peak resident set) of a process in MiB, or null once it is gone. */
export function peakRssMiB(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1]);
    return Number.isFinite(kib) ? kib / 1024 : null;
  } catch {
    return null;
  }
}

/** The pids of the processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export interface PeakRss {
  /** The process's exit code (null when a signal ended it). */
  readonly status: number | null;
  /** Its own peak, MiB. */
  readonly ownMiB: number;
  /** The peak of each of its child processes, MiB (e.g. local workers). */
  readonly childrenMiB: readonly number[];
}

/** Samples the peak RSS of `child` and of its children every 100 ms until it exits. */
export async function followPeakRss(child: ChildProcess): Promise<PeakRss> {
  const peaks = new Map<number, number>();
  const sample = (): void => {
    if (child.pid === undefined) return;
    for (const pid of [child.pid, ...childrenOf(child.pid)]) {
      const peak = peakRssMiB(pid);
      if (peak !== null) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, peak));
    }
  };
  const timer = setInterval(sample, 100);
  const status = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  const ownMiB = peaks.get(child.pid!) ?? Number.NaN;
  peaks.delete(child.pid!);
  return { status, ownMiB, childrenMiB: [...peaks.values()] };
}
