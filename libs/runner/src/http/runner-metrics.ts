// Prometheus metrics of the coordinator service and of a worker (prom-client), served on
// their /metrics. Per-job series carry the job id and are dropped when the job ends, so the
// label sets stay bounded; everything else is labelled by numerics profile, shard kind or
// event, or by the few kinds of bytes moved (metered-store.ts).
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QueueDepth } from '../operations/cluster-reader';
import type { BytesMoved } from './metered-store';
import type { SegmentLookups } from '../worker/compute-thread-messages';

const STEP_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What both services count: bytes moved through the store, and the depth of the queues they know of. */
abstract class ServiceMetrics {
  readonly registry = new Registry();
  private queueSource: (() => Promise<readonly QueueDepth[]>) | undefined;

  readonly storeBytes = new Counter({
    name: 'lstm_store_bytes_total',
    help: 'Bytes of gradients, weight versions, checkpoints and dataset segments read or written through the store',
    labelNames: ['kind', 'direction'],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: 'lstm_queue_depth',
    help: 'Shard jobs on a profile queue, by state (waiting, active, delayed), read at each scrape',
    labelNames: ['profile', 'state'],
    registers: [this.registry],
    collect: () => this.collectQueueDepths(),
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Counts bytes moved (the callback of meteredStore). */
  readonly countBytes = (moved: BytesMoved): void => {
    this.storeBytes.inc({ kind: moved.kind, direction: moved.direction }, moved.bytes);
  };

  /** Where the queue depths come from at each scrape (until set, there are none). */
  observeQueues(source: () => Promise<readonly QueueDepth[]>): void {
    this.queueSource = source;
  }

  private async collectQueueDepths(): Promise<void> {
    if (this.queueSource === undefined) return;
    // A scrape while Redis is away shows no queue series rather than failing whole.
    const depths = await this.queueSource().catch(() => []);
    this.queueDepth.reset();
    for (const depth of depths) {
      for (const state of ['waiting', 'active', 'delayed'] as const) this.queueDepth.set({ profile: depth.profile, state }, depth[state]);
    }
  }
}

export class CoordinatorMetrics extends ServiceMetrics {
  readonly stepsCompleted = new Counter({
    name: 'lstm_steps_completed_total',
    help: 'Optimizer steps completed',
    labelNames: ['profile'],
    registers: [this.registry],
  });
  readonly stepSeconds = new Histogram({
    name: 'lstm_step_duration_seconds',
    help: 'Wall time of a training step: shards, aggregation, optimizer, weights written',
    labelNames: ['profile'],
    buckets: STEP_SECONDS,
    registers: [this.registry],
  });
  readonly shardComputeSeconds = new Histogram({
    name: 'lstm_shard_compute_seconds',
    help: "Workers' time on one training shard, as they report it",
    labelNames: ['profile'],
    buckets: STEP_SECONDS,
    registers: [this.registry],
  });
  readonly shardEvents = new Counter({
    name: 'lstm_shard_events_total',
    help: 'Shard jobs that were retried, stalled (their worker died) and recovered, duplicated as stragglers, or failed for good',
    labelNames: ['event'],
    registers: [this.registry],
  });
  readonly jobsFinished = new Counter({
    name: 'lstm_jobs_finished_total',
    help: 'Job runs that ended here: completed, failed or cancelled',
    labelNames: ['state'],
    registers: [this.registry],
  });
  readonly trainLoss = new Gauge({
    name: 'lstm_job_train_loss',
    help: "The running job's last training loss",
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly validationLoss = new Gauge({
    name: 'lstm_job_validation_loss',
    help: "The running job's last validation loss",
    labelNames: ['job'],
    registers: [this.registry],
  });
  readonly jobsRunning = new Gauge({
    name: 'lstm_jobs_running',
    help: 'Jobs this coordinator runs now',
    labelNames: ['profile'],
    registers: [this.registry],
  });

  /** Drops the job's series: a finished job's losses are in the store, not in Prometheus. */
  dropJob(jobId: string): void {
    this.trainLoss.remove({ job: jobId });
    this.validationLoss.remove({ job: jobId });
  }
}

export class WorkerMetrics extends ServiceMetrics {
  readonly shards = new Counter({
    name: 'lstm_worker_shards_total',
    help: 'Shards this worker finished, by kind and outcome',
    labelNames: ['kind', 'outcome'],
    registers: [this.registry],
  });
  readonly shardSeconds = new Histogram({
    name: 'lstm_worker_shard_seconds',
    help: 'Time from taking a shard to returning its result',
    labelNames: ['kind'],
    buckets: STEP_SECONDS,
    registers: [this.registry],
  });
  readonly threadRestarts = new Counter({
    name: 'lstm_worker_thread_restarts_total',
    help: 'Compute threads that died and were replaced',
    registers: [this.registry],
  });
  readonly segmentLookups = new Counter({
    name: 'lstm_worker_segment_lookups_total',
    help: 'Dataset segments the shards needed, by where they came from: memory, disk (the segment cache) or store',
    labelNames: ['source'],
    registers: [this.registry],
  });

  readonly countSegmentLookups = (lookups: SegmentLookups): void => {
    for (const source of ['memory', 'disk', 'store'] as const) {
      if (lookups[source] > 0) this.segmentLookups.inc({ source }, lookups[source]);
    }
  };
}
