// A job's metric records as the dashboard keeps them: the loss curves as columns of numbers
// (100,000 steps take about 2 MB, not the 20 MB of the records), the last records for rates
// and ETAs, and when they were read. Reading a long run's history means reading all its
// chunks, so it is re-read only when the job moved on, and then no more often than ten times
// the last read took (a 5 s read on a slow store: every 50 s at most); reads of one job are
// shared by concurrent requests.
import { readMetrics, type MetricRecord } from '@lstm-runner/job-store';
import type { ObjectStore } from '@lstm-runner/storage';

/** Records kept whole: enough for a robust step time. */
const RECENT_RECORDS = 50;

export interface MetricHistory {
  readonly steps: Float64Array;
  readonly trainLoss: Float64Array;
  readonly validationSteps: Float64Array;
  readonly validationLoss: Float64Array;
  /** The last records, oldest first. */
  readonly recent: readonly MetricRecord[];
  /** The status time (updatedAt) it was read for. */
  readonly readFor: string | null;
  readonly readAt: number;
  readonly readMs: number;
}

export function historyOf(records: readonly MetricRecord[], readFor: string | null, readAt: number, readMs: number): MetricHistory {
  const validated = records.filter((record) => record.validationLoss !== null);
  return {
    steps: Float64Array.from(records, (record) => record.step),
    trainLoss: Float64Array.from(records, (record) => record.trainLoss),
    validationSteps: Float64Array.from(validated, (record) => record.step),
    validationLoss: Float64Array.from(validated, (record) => record.validationLoss!),
    recent: records.slice(-RECENT_RECORDS),
    readFor,
    readAt,
    readMs,
  };
}

/** Milliseconds per step from the records' wall times: the median over consecutive steps (a pause or resume does not skew it). */
export function msPerStep(recent: readonly MetricRecord[]): number | null {
  const gaps: number[] = [];
  for (let i = 1; i < recent.length; i++) {
    const [before, after] = [recent[i - 1]!, recent[i]!];
    if (after.step === before.step + 1 && after.wallTimeMs >= before.wallTimeMs) gaps.push(after.wallTimeMs - before.wallTimeMs);
  }
  if (gaps.length === 0) return recent.length === 0 ? null : recent[recent.length - 1]!.stepMs;
  gaps.sort((a, b) => a - b);
  return gaps[Math.floor(gaps.length / 2)]!;
}

export interface MetricHistoriesOptions {
  /** A moving job's history is re-read at most this often... */
  readonly minRefreshMs: number;
  /** ...and at most once per this many times its last read took. */
  readonly slowdown: number;
  /** Histories kept (least recently used go first). */
  readonly capacity: number;
  readonly now: () => number;
}

export const DEFAULT_METRIC_HISTORIES_OPTIONS: MetricHistoriesOptions = {
  minRefreshMs: 1_000,
  slowdown: 10,
  capacity: 32,
  now: () => Date.now(),
};

export class MetricHistories {
  private readonly options: MetricHistoriesOptions;
  private readonly kept = new Map<string, MetricHistory>();
  private readonly reading = new Map<string, Promise<MetricHistory>>();

  constructor(
    private readonly store: ObjectStore,
    options: Partial<MetricHistoriesOptions> = {},
  ) {
    this.options = { ...DEFAULT_METRIC_HISTORIES_OPTIONS, ...options };
  }

  /** The job's history, read again when its status moved on (updatedAt) and the last read is old enough. */
  async get(jobId: string, updatedAt: string | null): Promise<MetricHistory> {
    const { now, minRefreshMs, slowdown } = this.options;
    const kept = this.kept.get(jobId);
    if (kept !== undefined) {
      const fresh = kept.readFor === updatedAt || now() - kept.readAt < Math.max(minRefreshMs, slowdown * kept.readMs);
      if (fresh) {
        this.remember(jobId, kept);
        return kept;
      }
    }
    let reading = this.reading.get(jobId);
    if (reading === undefined) {
      reading = this.read(jobId, updatedAt).finally(() => this.reading.delete(jobId));
      this.reading.set(jobId, reading);
    }
    return reading;
  }

  private async read(jobId: string, updatedAt: string | null): Promise<MetricHistory> {
    const started = this.options.now();
    const records = await readMetrics(this.store, jobId);
    const history = historyOf(records, updatedAt, this.options.now(), this.options.now() - started);
    this.remember(jobId, history);
    return history;
  }

  private remember(jobId: string, history: MetricHistory): void {
    this.kept.delete(jobId);
    this.kept.set(jobId, history);
    while (this.kept.size > this.options.capacity) this.kept.delete(this.kept.keys().next().value!);
  }
}
