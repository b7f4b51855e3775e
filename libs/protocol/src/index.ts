// @lstm-runner/protocol: what the processes agree on. Job specs (parsed and validated),
// identifiers, the storage key layout, numerics profiles and queue names, the payloads of
// gradient jobs, and the binary vector format of weights and gradients.
export { defaultPromotionMetric, jobSpecSchema, loadJobSpec, parseJobSpec, SPEC_DEFAULTS, validateJobSpec } from './job-spec';
export type {
  DataSpec,
  JobModelSpec,
  JobSpec,
  OptimizerSpec,
  ProfileSpec,
  PromotionMetric,
  PromotionRequirement,
  PromotionSpec,
  TrainingSpec,
  WindowSettings,
} from './job-spec';
export type { EarlyStoppingSpec } from './training-rules';
export { validateCounter, validateDatasetId, validateJobId, validateModelName, validateScheduleId } from './identifiers';
export {
  checkpointKeys,
  checkpointsPrefix,
  datasetManifestKey,
  datasetSegmentKey,
  DATASETS_PREFIX,
  formatStep,
  GENERATION_DIGITS,
  gradientKey,
  gradientsPrefix,
  gradientStepPrefix,
  reducedGradientKey,
  jobLatestKey,
  jobPrefix,
  JOBS_PREFIX,
  jobSpecKey,
  metricsChunkKey,
  metricsPrefix,
  modelBestKey,
  modelLatestKey,
  modelProductionKey,
  modelVersionKey,
  modelVersionsPrefix,
  MODELS_PREFIX,
  parseStoreKey,
  scheduleKey,
  SCHEDULES_PREFIX,
  SHARD_DIGITS,
  STEP_DIGITS,
  VERSION_DIGITS,
  weightsKey,
  weightsPrefix,
} from './storage-layout';
export type { CheckpointKeys, StoreKeyInfo } from './storage-layout';
export {
  formatNumericsProfile,
  formatProfileFamily,
  MAX_PROFILE_THREADS,
  numericsProfileSchema,
  parseNumericsProfile,
  validateNumericsProfile,
} from './numerics-profile';
export type { NumericsProfile } from './numerics-profile';
export { CONTROL_QUEUE_NAME, DEFAULT_QUEUE_PREFIX, gradientQueueName, validateQueuePrefix } from './queues';
export { parseShardTaskId, shardTaskId, shardTaskPrefix } from './gradient-job';
export type {
  DroppedShardResult,
  GradientChecksum,
  GradientJobData,
  GradientJobResult,
  GradientSum,
  ReduceJobData,
  ReduceResult,
  ShardJobData,
  ShardKind,
  ShardTaskRef,
  TaskKind,
  TrainShardResult,
  ValidationShardResult,
} from './gradient-job';
export { decodeFloat32Vector, encodeFloat32Vector, FLOAT32_VECTOR_VERSION, viewFloat32Vector } from './float32-vector';
export type { Float32VectorExpectations, Float32VectorOptions } from './float32-vector';
export { InvalidIdentifierError } from './errors/invalid-identifier-error';
export { SpecError } from './errors/spec-error';
export { VectorFormatError } from './errors/vector-format-error';
