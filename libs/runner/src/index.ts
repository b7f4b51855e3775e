// @lstm-runner/runner: the distributed runner, where BullMQ and ioredis live.
//   training/    the coordinator (lease, generations, recovery), its step loop, the shard
//                dispatcher, the pure optimizer step and the gradient sum
//   worker/      the gradient worker service, its compute threads and their messages
//   operations/  the coordinator service, job submission and control, schedules, defaults
//   redis/       connections (credentials never printed) and the Redis key layout
//   soak/        the soak's seeded fault plan and its report (the driver is in test-support)
// Apps use what is exported here; the Redis key layout stays inside.
export { Coordinator, DEFAULT_COORDINATOR_OPTIONS } from './training/coordinator';
export type { CoordinatorOptions, RunJobOptions } from './training/coordinator';
export type { JobOutcome, StepProgress } from './training/training-loop';
export { aggregateShardGradients } from './training/gradient-sum';
export type { AggregatedGradient, ShardGradient } from './training/gradient-sum';
export { optimizerStep } from './training/optimizer-step';
export type { StepResult } from './training/optimizer-step';
export { ShardDispatcher, DEFAULT_DISPATCHER_OPTIONS } from './training/shard-dispatcher';
export type { ShardDispatcherOptions } from './training/shard-dispatcher';
export type { ShardRunner, ShardTask } from './training/shard-runner';
export { DEFAULT_LEASE_OPTIONS } from './training/job-lease';
export type { JobLeaseOptions } from './training/job-lease';
export { GradientWorker, DEFAULT_GRADIENT_WORKER_OPTIONS } from './worker/gradient-worker';
export { reduceGradients } from './worker/gradient-reducer';
export { reductionTree, REDUCTION_FAN_IN } from './training/reduction-tree';
export type { GradientWorkerInput, GradientWorkerOptions } from './worker/gradient-worker';
export { CoordinatorService, DEFAULT_MAX_DESIRED_WORKERS, enqueueJobRun } from './operations/coordinator-service';
export type { CoordinatorServiceOptions } from './operations/coordinator-service';
export { createJob, modelSpecOf, newJobId } from './operations/job-submission';
export type { CreatedJob, CreateJobOptions } from './operations/job-submission';
export { cancelJob, markJobFailed, profileForResume, reopenJob, resumeThroughService } from './operations/job-control';
export type { CancelOutcome, JobControlConnection } from './operations/job-control';
export { listSchedules, registerSchedule, removeSchedule, ScheduleRunner } from './operations/schedules';
export type { FiringOutcome, ScheduleConnection, ScheduleRequest, ScheduleSummary } from './operations/schedules';
export { scheduleTimingOf } from './operations/schedule-timing';
export type { ScheduleTiming } from './operations/schedule-timing';
export { openDataSource } from './operations/data-source';
export { chooseServedProfile, resolveJobProfile } from './operations/profile-resolution';
export type { ResolvedProfile } from './operations/profile-resolution';
export { DEFAULT_HEARTBEAT_TIMINGS, listLiveWorkers, liveWorkersAt, servedProfiles, servedProfilesAt } from './operations/worker-registry';
export type { HeartbeatTimings, ShardInHand, WorkerAnnouncement } from './operations/worker-registry';
export { DEFAULT_WORKER_WATCH_OPTIONS } from './training/worker-watch';
export type { WorkerWatchOptions } from './training/worker-watch';
export {
  DEFAULT_LOCAL_STORE_DIR,
  parseNonNegativeInteger,
  parsePort,
  parsePositiveInteger,
  portOption,
  positiveIntegerOption,
  runtimeDefaults,
} from './operations/runtime-defaults';
export type { RuntimeDefaults } from './operations/runtime-defaults';
export {
  assertRedisReachable,
  DEFAULT_REDIS_URL,
  redactCredentials,
  redactUrl,
  redisOptionsFromUrl,
  whyRedisUnreachable,
} from './redis/redis-connection';
export { ComputeThreadError } from './errors/compute-thread-error';
export { LeaseLostError } from './errors/lease-lost-error';
export { RedisResetError } from './errors/redis-reset-error';
export { ScheduleError } from './errors/schedule-error';
export { ShardFailedError } from './errors/shard-failed-error';
export { TrainingFailedError } from './errors/training-failed-error';
export { CoordinatorMetrics, WorkerMetrics } from './http/runner-metrics';
export { meteredStore, movedKindOf, MOVED_KINDS } from './http/metered-store';
export type { BytesMoved, MovedKind, MoveDirection } from './http/metered-store';
export { ClusterReader } from './operations/cluster-reader';
export type { QueueDepth } from './operations/cluster-reader';
export { formatLogLine, GenerationMemory, LOG_FORMATS, logFieldsOf, logFormatOption, parseLogFormat } from './logging/log-lines';
export type { LogFields, LogFormat, LogLevel } from './logging/log-lines';
export { serveCoordinatorEndpoints, serveWorkerEndpoints } from './http/service-probes';
export type { ServedEndpoints } from './http/service-probes';
export type { ScalingReport } from './operations/coordinator-service';
export type { RunningJob } from './training/coordinator';
export { countByKind, DEFAULT_FAULT_DURATIONS, FAULT_KINDS, faultSchedule } from './soak/fault-schedule';
export type { FaultKind, FaultScheduleOptions, SoakFault } from './soak/fault-schedule';
export { compareRuns, formatSoakReport, soakReport, stepsRedone } from './soak/soak-report';
export type { FaultRecord, Replay, RunComparison, SoakFacts, SoakReport, StepRecord } from './soak/soak-report';
