// @lstm-runner/job-store: a job's objects in the store (its record, its pointer, weight
// versions, checkpoints, metrics), model pointers and job status. Every JSON object is read
// through a zod schema: a corrupt or foreign object is a StoredObjectError naming the key
// and the field. No queue here: the CLI, the dashboard and the runner all read through it.
export { parseStoredJson, readStoredJson, readStoredJsonIfExists, writeStoredJson } from './stored-json';
export { jobRecordSchema, readJobRecord, reductionVersionOf, shuffleOf, writeJobRecord } from './job-record';
export type { JobRecord } from './job-record';
export { checkpointRefSchema, isFinalState, JOB_STATES, jobPointerSchema, readJobPointer, updateJobPointer } from './job-pointer';
export type { CheckpointRef, JobPointer, JobState, PointerUpdate, WorkerWait } from './job-pointer';
export { checkpointManifestSchema, readCheckpoint, writeCheckpoint, writeWeights } from './checkpoints';
export type { Checkpoint, CheckpointManifest, EarlyStoppingCount, ValidationState, WrittenWeights } from './checkpoints';
export { dropMetricsAfter, metricRecordSchema, readLastMetric, readMetrics, writeMetricsChunk } from './metrics';
export type { MetricRecord } from './metrics';
export { modelPointerSchema, publishModelPointer, readModelPointer } from './model-pointer';
export type { ModelPointer, ModelPointerKind } from './model-pointer';
export { createModelVersion, listModelVersions, listVersionNumbers, modelVersionSchema, readModelVersion } from './model-versions';
export type { ModelEvaluation, ModelVersion, VersionDraft, VersionLineage } from './model-versions';
export { aliasAt, moveProductionAlias, productionAliasSchema, readProductionAlias } from './production-alias';
export type { AliasUpdate, ProductionAlias } from './production-alias';
export { decidePromotion, formatFigure } from './promotion-gate';
export type { Figure, GateDecision, GateInput } from './promotion-gate';
export {
  listModelNames,
  modelSummary,
  promoteVersion,
  publishVersion,
  pruneVersions,
  readProductionModel,
  rollbackProduction,
  summarizeVersion,
} from './model-registry';
export type { ModelSummary, ProductionModel, PruneResult, VersionSummary } from './model-registry';
export { jobStatus, listJobIds, pollJobStatus, waitingNotice } from './job-status';
export type { JobStatus } from './job-status';
export { shardPlanOf } from './job-shard-plan';
export { StaleOwnerError } from './errors/stale-owner-error';
export { StoredObjectError } from './errors/stored-object-error';
export { ModelRegistryError } from './errors/model-registry-error';
