// Publishing a completed job's model. First its version: the new model and the production
// version are evaluated on the same data (the spec's promotion.holdout, else the run's
// validation windows), each through its own encoding; the gate decides; the version is
// written once (models/<name>/versions/<n>/) and, when it passed, the production alias moves
// to it by compare-and-set. Then the pointers of earlier releases: models/<name>/latest.json
// -> the final checkpoint (the last completed run, whatever its gate said), best.json -> its
// lowest validation loss when lower than the model's best so far. Both move by
// compare-and-set, and never back to a pointer of the same job written by a newer owner.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  decidePromotion,
  listModelVersions,
  publishModelPointer,
  publishVersion,
  pruneVersions,
  readModelVersion,
  readProductionAlias,
  updateJobPointer,
  type CheckpointRef,
  type Figure,
  type JobRecord,
  type ModelPointer,
  type ModelVersion,
  type ValidationState,
  type VersionDraft,
} from '@lstm-runner/job-store';
import {
  evaluateOnSameData,
  loadCheckpointModel,
  readHoldout,
  validationData,
  type EvaluationData,
  type TrainedModel,
} from '@lstm-runner/models';
import { checkpointKeys, defaultPromotionMetric, SPEC_DEFAULTS, type PromotionSpec } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';
import { openDataSource } from '../operations/data-source';
import { readSchedule } from '../operations/schedule-records';

export interface PublishOptions {
  readonly log: (line: string) => void;
  /** Endpoint for an s3:// holdout; default S3_ENDPOINT (see openStore). */
  readonly s3Endpoint?: string | undefined;
  /** Where dataset segments read for an evaluation are cached. */
  readonly cacheDir: string;
}

export const DEFAULT_PUBLISH_OPTIONS: PublishOptions = { log: () => undefined, cacheDir: join(tmpdir(), 'lstm-evaluation-cache') };

function promotionOf(record: JobRecord): PromotionSpec {
  return (
    record.spec.promotion ?? {
      metric: defaultPromotionMetric(record.spec.data.format),
      maxRegression: SPEC_DEFAULTS.promotion.maxRegression,
      require: SPEC_DEFAULTS.promotion.require,
    }
  );
}

/** The columns a CSV holdout must have for both models. */
function columnsOf(...models: (TrainedModel | null)[]): string[] {
  return models.flatMap((m) => (m?.encoding.kind === 'csv' ? [...m.encoding.features, ...m.encoding.targets] : []));
}

interface Evaluated {
  readonly data: string;
  readonly candidate: Figure;
  readonly baseline: { readonly version: number; readonly figure: Figure } | null;
}

/** The production version's model, or why it cannot be loaded. */
async function productionModel(store: ObjectStore, production: ModelVersion): Promise<TrainedModel | Figure> {
  try {
    return await loadCheckpointModel(store, production.jobId, production.checkpoint, `production v${production.version}`);
  } catch (error) {
    return { problem: `cannot load it: ${(error as Error).message}` };
  }
}

/** Both figures: the new run's final checkpoint and the production version, on the same data. */
async function evaluate(
  store: ObjectStore,
  record: JobRecord,
  final: CheckpointRef,
  production: ModelVersion | null,
  options: PublishOptions,
): Promise<Evaluated> {
  const { holdout, metric } = promotionOf(record);
  const candidate = await loadCheckpointModel(store, record.id, final.prefix, `job ${record.id} step ${final.step}`);
  const loaded = production === null ? null : await productionModel(store, production);
  const baselineModel = loaded !== null && 'model' in loaded ? loaded : null;
  const loadProblem = loaded !== null && !('model' in loaded) ? loaded : null;
  const baselineOf = (figure: Figure | null): Evaluated['baseline'] =>
    production === null || figure === null ? null : { version: production.version, figure };
  const dataName = holdout === undefined ? `validation windows of dataset ${record.datasetId}` : `holdout ${holdout}`;
  let data: EvaluationData;
  try {
    data =
      holdout === undefined
        ? await validationData(store, record.datasetId, candidate.window, options.cacheDir)
        : await readHoldout(
            await openDataSource(holdout, options.s3Endpoint),
            record.spec.data.format,
            columnsOf(candidate, baselineModel),
          );
  } catch (error) {
    const problem: Figure = { problem: `cannot read the ${dataName}: ${(error as Error).message}` };
    return { data: dataName, candidate: problem, baseline: baselineOf(problem) };
  }
  const figures = await evaluateOnSameData(candidate, baselineModel, data, metric);
  return {
    data: data.description,
    candidate: figures.candidate,
    baseline: baselineOf(baselineModel === null ? loadProblem : figures.baseline),
  };
}

const valueOf = (figure: Figure | undefined): number | null => (figure !== undefined && 'value' in figure ? figure.value : null);

/** Writes the run's version (once per job) and moves production to it when it passes the gate. */
async function publishRunVersion(
  store: ObjectStore,
  record: JobRecord,
  final: CheckpointRef,
  fencingToken: number,
  options: PublishOptions,
): Promise<void> {
  const versions = await listModelVersions(store, record.name);
  let draft: VersionDraft | undefined = versions.find((v) => v.jobId === record.id);
  if (draft === undefined) {
    const promotion = promotionOf(record);
    const alias = await readProductionAlias(store, record.name);
    const production = alias === null ? null : await readModelVersion(store, record.name, alias.version);
    const evaluated = await evaluate(store, record, final, production, options);
    const decision = decidePromotion({ promotion, candidate: evaluated.candidate, baseline: evaluated.baseline });
    const warmStartFrom = record.warmStartFrom ?? null;
    draft = {
      name: record.name,
      jobId: record.id,
      createdAt: new Date().toISOString(),
      checkpoint: final.prefix,
      step: final.step,
      spec: record.spec,
      datasetId: record.datasetId,
      lineage: {
        warmStartVersion: versions.find((v) => v.checkpoint === warmStartFrom)?.version ?? null,
        warmStartFrom,
        scheduleId: record.scheduleId ?? null,
      },
      evaluation: {
        metric: promotion.metric,
        data: evaluated.data,
        value: valueOf(evaluated.candidate),
        baselineVersion: evaluated.baseline?.version ?? null,
        baselineValue: valueOf(evaluated.baseline?.figure),
      },
      ...decision,
      fencingToken,
    };
  }
  // Refused (StaleOwnerError) once another coordinator took the job: a stale owner publishes nothing.
  const fence = async (): Promise<void> => {
    await updateJobPointer(store, record.id, fencingToken, () => null);
  };
  const { version, production } = await publishVersion(store, draft, fence);
  const from = record.scheduleId === undefined ? '' : ` (schedule ${record.scheduleId})`;
  const outcome = version.promoted
    ? production
      ? 'promoted to production'
      : 'passed its gate, but production moved meanwhile: not promoted'
    : 'not promoted';
  options.log(`model ${record.name}: version ${version.version} of job ${record.id}${from} ${outcome}: ${version.reason}`);
  const keep = record.scheduleId === undefined ? undefined : (await readSchedule(store, record.scheduleId))?.keep;
  if (keep !== undefined) {
    const pruned = await pruneVersions(store, record.name, keep);
    if (pruned.deletedVersions.length > 0) {
      options.log(
        `model ${record.name}: kept the last ${keep} versions and production; pruned versions ${pruned.deletedVersions.join(', ')}`,
      );
    }
  }
}

export async function publishModel(
  store: ObjectStore,
  record: JobRecord,
  final: CheckpointRef,
  validation: ValidationState,
  fencingToken: number,
  options: PublishOptions = DEFAULT_PUBLISH_OPTIONS,
): Promise<void> {
  await publishRunVersion(store, record, final, fencingToken, options);
  const pointer = (checkpoint: CheckpointRef, validationLoss: number | null): ModelPointer => ({
    name: record.name,
    jobId: record.id,
    checkpoint: checkpoint.prefix,
    step: checkpoint.step,
    datasetId: record.datasetId,
    validationLoss,
    fencingToken,
    updatedAt: new Date().toISOString(),
  });
  const { bestStep, bestLoss, bestCheckpoint } = validation;
  // The final checkpoint is the best one when early stopping restored it.
  await publishModelPointer(store, 'latest', pointer(final, final.step === bestStep ? bestLoss : validation.lastLoss));
  if (bestStep === null || bestLoss === null) return;
  // Checkpoints of releases before fencing tokens did not record their best's prefix.
  const best = { step: bestStep, prefix: bestCheckpoint ?? checkpointKeys(record.id, bestStep, 0).prefix };
  await publishModelPointer(
    store,
    'best',
    pointer(best, bestLoss),
    (current) => current?.validationLoss == null || bestLoss < current.validationLoss,
  );
}
