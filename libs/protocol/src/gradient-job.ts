// What travels through the gradient queues. BullMQ keeps job data and return values as JSON
// in Redis and echoes return values into its event stream, so both stay small: keys,
// checksums and numbers, never weight or gradient bytes (those go through the store).
import type { ChecksumAlgorithm } from '@lstm-runner/storage';
import { validateCounter, validateJobId } from './identifiers';
import { InvalidIdentifierError } from './errors/invalid-identifier-error';

/** A training shard computes loss and gradient; a validation shard only the loss. */
export type ShardKind = 'train' | 'validate';

/** What a task on a gradient queue does: a shard, or a node of the step's reduction tree (reduction-tree.ts in runner). */
export type TaskKind = ShardKind | 'reduce';

/**
 * How the per-step gradients of a job are checksummed: 'sha256' under reduction version 1,
 * 'crc32' under version 2 (a torn or stale object is what it guards against, and crc32 runs
 * at about 5 GB/s against sha256's 1.2 here). Weights and checkpoints keep sha256.
 */
export type GradientChecksum = ChecksumAlgorithm;

/** What every task of one step of one generation carries. */
interface StepTaskData {
  readonly jobId: string;
  /** Raised on every resume and Redis recovery; tasks of another generation are dropped. */
  readonly generation: number;
  readonly step: number;
}

/** One shard of one step: the data of a BullMQ job on a gradient queue. */
export interface ShardJobData extends StepTaskData {
  readonly epoch: number;
  /** Index of the step's batch in its epoch's batch list. */
  readonly stepInEpoch: number;
  readonly shard: number;
  readonly kind: ShardKind;
  /** Weights version `step` in the store, and the sha256 its bytes must have. */
  readonly weightsKey: string;
  readonly weightsSha256: string;
  /** The pinned dataset the shard's windows come from. */
  readonly datasetId: string;
  /** How a training shard checksums its gradient; absent: 'sha256' (reduction version 1). */
  readonly checksum?: GradientChecksum;
}

/** A summed gradient in the store: a training shard's, or a reduction node's. */
export interface GradientSum {
  /** Where the summed gradient is (a float32 vector) and its checksum ('sha256:<hex>' or 'crc32:<hex>'). */
  readonly gradientKey: string;
  readonly gradientChecksum: string;
  /** Summed over the windows (the aggregator divides by the step's total count). */
  readonly loss: number;
  readonly count: number;
}

/**
 * A node of the step's reduction tree: the sum of its children's gradients (up to 8, in
 * child order), written to the store. Needs no model: any worker serves it.
 */
export interface ReduceJobData extends StepTaskData {
  readonly kind: 'reduce';
  /** The node's number in its step's tree (level by level). */
  readonly shard: number;
  readonly inputs: readonly GradientSum[];
  readonly checksum: GradientChecksum;
}

/** What a gradient queue's BullMQ job carries. */
export type GradientJobData = ShardJobData | ReduceJobData;

/** A training shard's return value: its summed gradient is in the store. */
export interface TrainShardResult extends GradientSum {
  readonly kind: 'train';
  /** Time the worker spent on the shard (reading, computing, writing): for coordination metrics. */
  readonly computeMs: number;
}

/** A reduction node's return value: the sum of its inputs is in the store. */
export interface ReduceResult extends GradientSum {
  readonly kind: 'reduce';
  readonly computeMs: number;
}

/** A validation shard's return value: the summed loss only. */
export interface ValidationShardResult {
  readonly kind: 'validate';
  readonly loss: number;
  readonly count: number;
  readonly computeMs: number;
}

/** What a worker returns for a shard of a generation that is not the job's current one. */
export interface DroppedShardResult {
  readonly kind: 'dropped';
}

/** A shard's return value. */
export type GradientJobResult = TrainShardResult | ValidationShardResult | ReduceResult | DroppedShardResult;

/** The parts of a shard's BullMQ job id. */
export interface ShardTaskRef {
  readonly jobId: string;
  readonly generation: number;
  readonly step: number;
  readonly kind: TaskKind;
  readonly shard: number;
}

const MAX_COUNTER = Number.MAX_SAFE_INTEGER;
const KIND_LETTER: Record<TaskKind, string> = { train: 't', validate: 'v', reduce: 'r' };
const LETTER_KIND: Record<string, TaskKind> = { t: 'train', v: 'validate', r: 'reduce' };

/**
 * Every shard job id of jobId starts with this; with a generation, every id of that
 * generation (for removing an old generation's waiting shards).
 */
export function shardTaskPrefix(jobId: string, generation?: number): string {
  const job = `j-${validateJobId(jobId)}-g`;
  return generation === undefined ? job : `${job}${validateCounter('generation', generation, MAX_COUNTER)}-`;
}

/**
 * The BullMQ job id of a shard: 'j-<job>-g<generation>-s<step>-<t|v|r><shard>'. Unique per
 * (job, generation, step, kind, shard), so a re-enqueue within a generation is a no-op; no
 * ':' (BullMQ forbids it in custom ids).
 */
export function shardTaskId(ref: ShardTaskRef): string {
  const step = validateCounter('step', ref.step, MAX_COUNTER);
  const shard = validateCounter('shard', ref.shard, MAX_COUNTER);
  return `${shardTaskPrefix(ref.jobId, ref.generation)}s${step}-${KIND_LETTER[ref.kind]}${shard}`;
}

// Job ids may contain '-', so the fixed tail is matched from the end.
const SHARD_TASK_ID = /^j-(.+)-g(\d+)-s(\d+)-([tvr])(\d+)$/;

/** The inverse of shardTaskId; throws InvalidIdentifierError for anything else. */
export function parseShardTaskId(taskId: string): ShardTaskRef {
  const match = SHARD_TASK_ID.exec(taskId);
  if (match === null) throw new InvalidIdentifierError('shard task id', taskId, "expected 'j-<job>-g<generation>-s<step>-<t|v|r><shard>'");
  const ref: ShardTaskRef = {
    jobId: match[1]!,
    generation: Number(match[2]),
    step: Number(match[3]),
    kind: LETTER_KIND[match[4]!]!,
    shard: Number(match[5]),
  };
  // Rebuilding validates the parts and rejects non-canonical numbers ('s007').
  if (shardTaskId(ref) !== taskId) throw new InvalidIdentifierError('shard task id', taskId, 'not in canonical form');
  return ref;
}
