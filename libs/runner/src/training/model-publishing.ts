// Publishing a completed job's model: models/<name>/latest.json -> its final checkpoint,
// best.json -> its lowest validation loss when lower than the model's best so far. Both move
// by compare-and-set, and never back to a pointer of the same job written by a newer owner.
import { checkpointKeys } from '@lstm-runner/protocol';
import { publishModelPointer, type CheckpointRef, type JobRecord, type ModelPointer, type ValidationState } from '@lstm-runner/job-store';
import type { ObjectStore } from '@lstm-runner/storage';

export async function publishModel(
  store: ObjectStore,
  record: JobRecord,
  final: CheckpointRef,
  validation: ValidationState,
  fencingToken: number,
): Promise<void> {
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
  await publishModelPointer(store, 'latest', pointer(final, validation.lastLoss));
  const { bestStep, bestLoss, bestCheckpoint } = validation;
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
