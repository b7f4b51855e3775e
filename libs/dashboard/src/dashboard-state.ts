// What the dashboard knows, read from the store and Redis and kept briefly, so that many
// open pages and scripts cost the store no more than one: the job list is read at most once
// per second (a finished job whose pointer did not change is not read again), the workers
// and queues likewise, and loss histories through MetricHistories. Workers that stopped
// announcing themselves stay listed (as gone) for a while: "seen recently".
import { isFinalState, jobStatus, listJobIds, readJobPointer, readJobRecord, type JobRecord, type JobStatus } from '@lstm-runner/job-store';
import { validateJobId } from '@lstm-runner/protocol';
import type { QueueDepth, WorkerAnnouncement } from '@lstm-runner/runner';
import type { ObjectStore } from '@lstm-runner/storage';
import type { ClusterView } from './cluster-view';
import { UnknownJobError } from './errors/unknown-job-error';
import { listCheckpoints, lossCurves, summarize, type JobDetail, type JobSummary } from './job-views';
import { MetricHistories } from './metric-history';

export interface WorkerView extends WorkerAnnouncement {
  /** False once its announcement expired: it left or died. */
  readonly live: boolean;
}

export interface DashboardStateOptions {
  /** Lists (jobs, workers, queues) are read again after this long. */
  readonly listRefreshMs: number;
  /** A worker gone this long is no longer listed. */
  readonly goneWorkerMs: number;
  /** Store reads at once while reading the job list. */
  readonly readConcurrency: number;
  readonly log: (line: string) => void;
  readonly now: () => number;
}

export const DEFAULT_DASHBOARD_STATE_OPTIONS: DashboardStateOptions = {
  listRefreshMs: 1_000,
  goneWorkerMs: 10 * 60_000,
  readConcurrency: 16,
  log: () => undefined,
  now: () => Date.now(),
};

interface KnownJob {
  readonly status: JobStatus;
  readonly record: JobRecord;
  readonly pointerUpdatedAt: string;
}

/** A value read at most once per `ttlMs`, the read shared by concurrent callers. */
class Throttled<T> {
  private value: { readonly at: number; readonly promise: Promise<T> } | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly read: () => Promise<T>,
  ) {}

  get(): Promise<T> {
    if (this.value === undefined || this.now() - this.value.at >= this.ttlMs) {
      const promise = this.read();
      const value = { at: this.now(), promise };
      this.value = value;
      // A failed read is not kept: the next caller tries again.
      promise.catch(() => {
        if (this.value === value) this.value = undefined;
      });
    }
    return this.value.promise;
  }
}

async function mapLimited<T, R>(items: readonly T[], limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await map(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

export class DashboardState {
  private readonly options: DashboardStateOptions;
  private readonly known = new Map<string, KnownJob>();
  private readonly seenWorkers = new Map<string, { readonly announcement: WorkerAnnouncement; lastSeen: number }>();
  private readonly histories: MetricHistories;
  private readonly jobList: Throttled<JobSummary[]>;
  private readonly workerList: Throttled<WorkerView[]>;

  constructor(
    private readonly store: ObjectStore,
    private readonly cluster: ClusterView,
    options: Partial<DashboardStateOptions> = {},
  ) {
    this.options = { ...DEFAULT_DASHBOARD_STATE_OPTIONS, ...options };
    const { listRefreshMs, now } = this.options;
    this.histories = new MetricHistories(store, { now });
    this.jobList = new Throttled(listRefreshMs, now, () => this.readJobs());
    this.workerList = new Throttled(listRefreshMs, now, () => this.readWorkers());
  }

  /** Every job in the store, oldest first (as `lstm status` lists them). */
  jobs(): Promise<JobSummary[]> {
    return this.jobList.get();
  }

  /** Live workers and those seen within goneWorkerMs, by id. */
  workers(): Promise<WorkerView[]> {
    return this.workerList.get();
  }

  /** The queues of the profiles of jobs not yet ended, and of those live workers serve. */
  async queues(): Promise<QueueDepth[]> {
    const waiting = (await this.jobs()).filter((job) => !isFinalState(job.state)).map((job) => job.profile);
    return this.cluster.queueDepths(waiting);
  }

  /** One job, read now, with its checkpoints and loss curves cut to `points` per series (null: all). */
  async job(jobId: string, points: number | null): Promise<JobDetail> {
    await this.assertExists(jobId);
    const status = await jobStatus(this.store, jobId);
    const record = await this.recordOf(jobId, status);
    const [history, checkpoints, workers] = await Promise.all([
      this.histories.get(jobId, status.updatedAt),
      listCheckpoints(this.store, jobId, status.checkpoint),
      this.workers(),
    ]);
    return {
      job: summarize(status, record, history, liveProfiles(workers), this.options.now()),
      checkpoints,
      metrics: lossCurves(history, points),
    };
  }

  private async recordOf(jobId: string, status: JobStatus): Promise<JobRecord> {
    const known = this.known.get(jobId);
    // A resume may move the job to another numerics build: a new generation reads the record again.
    if (known !== undefined && known.status.generation === status.generation) return known.record;
    return readJobRecord(this.store, jobId);
  }

  private async readJobs(): Promise<JobSummary[]> {
    const ids = await listJobIds(this.store);
    const workers = await this.workers().catch((error: unknown) => {
      this.options.log(`workers unknown: ${(error as Error).message}`);
      return [];
    });
    const profiles = liveProfiles(workers);
    const read = await mapLimited(ids, this.options.readConcurrency, (id) =>
      this.readJob(id, profiles).catch((error: unknown) => {
        this.options.log(`job ${id}: not listed: ${(error as Error).message.split('\n')[0]}`);
        return null;
      }),
    );
    for (const id of [...this.known.keys()]) if (!ids.includes(id)) this.known.delete(id);
    return read.filter((summary): summary is JobSummary => summary !== null);
  }

  private async readJob(jobId: string, profiles: readonly string[]): Promise<JobSummary | null> {
    const pointer = await readJobPointer(this.store, jobId);
    if (pointer === null) return null;
    const known = this.known.get(jobId);
    const unchanged = known !== undefined && known.pointerUpdatedAt === pointer.updatedAt && isFinalState(pointer.state);
    const status = unchanged ? known.status : await jobStatus(this.store, jobId);
    const record = unchanged ? known.record : await this.recordOf(jobId, status);
    this.known.set(jobId, { status, record, pointerUpdatedAt: pointer.updatedAt });
    // Rates and ETAs need the recent records: read (and kept) for running jobs only.
    const history = status.state === 'running' ? await this.histories.get(jobId, status.updatedAt) : null;
    return summarize(status, record, history, profiles, this.options.now());
  }

  private async readWorkers(): Promise<WorkerView[]> {
    const live = await this.cluster.liveWorkers();
    const now = this.options.now();
    for (const announcement of live) this.seenWorkers.set(announcement.id, { announcement, lastSeen: now });
    const liveIds = new Set(live.map((worker) => worker.id));
    const views: WorkerView[] = [];
    for (const [id, seen] of this.seenWorkers) {
      if (!liveIds.has(id) && now - seen.lastSeen > this.options.goneWorkerMs) this.seenWorkers.delete(id);
      else views.push({ ...seen.announcement, live: liveIds.has(id) });
    }
    return views.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** Throws InvalidIdentifierError for a malformed id, UnknownJobError for one the store lacks. */
  private async assertExists(jobId: string): Promise<void> {
    validateJobId(jobId);
    if ((await readJobPointer(this.store, jobId)) === null) throw new UnknownJobError(jobId, this.store.url);
  }

  /** Cancels the job (see ClusterView.cancel); the next list shows it. */
  async cancel(jobId: string): Promise<string> {
    await this.assertExists(jobId);
    return this.cluster.cancel(jobId);
  }

  async resume(jobId: string): Promise<string> {
    await this.assertExists(jobId);
    return this.cluster.resume(jobId);
  }
}

/** One entry per live worker: the profile it serves. */
function liveProfiles(workers: readonly WorkerView[]): string[] {
  return workers.filter((worker) => worker.live).map((worker) => worker.profile);
}
