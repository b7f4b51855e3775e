// Deterministic shard plans: a pure function of the training settings and the number of
// windows, never of how many workers there are. Epoch e's order of the training windows
// comes from the job's shuffle version: version 1 is a Fisher-Yates shuffle driven by
// createRng(deriveSeed(seed, e, SHUFFLE_STREAM)), an array of every window in every process
// that plans (4 bytes a window); version 2 is a block shuffle of keyed Feistel permutations
// (block-shuffle.ts), O(1) memory. A job keeps the version it was created with. The order is
// cut into batches of batchSize (the last one may be shorter) and each batch into shards of
// shardSize (the last one may be shorter). A shard is named by (epoch, stepInEpoch, shard)
// and its windows are rebuilt from those numbers. Validation windows are not shuffled: they
// are cut, in order, into shards of shardSize.
import { createRng, deriveSeed } from '@lstm-runner/lstm-core';
import { BlockShuffle, type BlockShuffleSettings } from './block-shuffle';
import type { WindowSettings } from './data-spec';

/** The shuffle version new jobs get; jobs record theirs, and checkpoints carry it. */
export const SHUFFLE_VERSION = 2;

/** How a job shuffles its windows; jobs recorded without one use version 1. */
export type ShuffleSettings = { readonly version: 1 } | ({ readonly version: 2 } & BlockShuffleSettings);

/** Blocks of a version-2 shuffle's group: a shard touches at most this many blocks. */
export const DEFAULT_GROUP_BLOCKS = 8;

/**
 * A new job's shuffle: version 2 with blocks of about one dataset segment's windows, so that a
 * shard touches few segments.
 */
export function shuffleForNewJob(rowsPerSegment: number, window: WindowSettings): ShuffleSettings {
  return {
    version: SHUFFLE_VERSION,
    blockWindows: Math.max(1, Math.floor(rowsPerSegment / window.step)),
    groupBlocks: DEFAULT_GROUP_BLOCKS,
  };
}

/** Keeps the shuffle's random stream apart from every other use of the job's seed. */
const SHUFFLE_STREAM = 0x53485546; // "SHUF"

export interface ShardPlanSettings {
  readonly seed: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly shardSize: number;
  /** Caps the total number of steps. */
  readonly maxSteps?: number | undefined;
  /** Default: version 1. */
  readonly shuffle?: ShuffleSettings | undefined;
}

export interface StepPosition {
  readonly epoch: number;
  readonly stepInEpoch: number;
}

export interface ShardRef extends StepPosition {
  readonly shard: number;
}

/** Epoch `epoch`'s permutation of [0, windows). */
export function shufflePermutation(seed: number, epoch: number, windows: number): Uint32Array {
  const order = new Uint32Array(windows);
  for (let i = 0; i < windows; i++) order[i] = i;
  const rng = createRng(deriveSeed(seed, epoch, SHUFFLE_STREAM));
  for (let i = windows - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const swap = order[i]!;
    order[i] = order[j]!;
    order[j] = swap;
  }
  return order;
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
}

function checkPositiveInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
}

export class ShardPlan {
  readonly settings: ShardPlanSettings;
  readonly trainWindows: number;
  readonly validationWindows: number;
  /** ceil(trainWindows / batchSize): every epoch has the same number of steps. */
  readonly stepsPerEpoch: number;
  /** min(epochs * stepsPerEpoch, maxSteps). */
  readonly totalSteps: number;
  readonly validationShards: number;
  readonly shuffle: ShuffleSettings;
  // The order of the epoch asked for last: workers ask for one epoch many times.
  private cached: { epoch: number; order: Uint32Array } | undefined;
  private cachedBlocks: { epoch: number; order: BlockShuffle } | undefined;

  constructor(settings: ShardPlanSettings, windows: { readonly trainWindows: number; readonly validationWindows: number }) {
    checkPositiveInteger('epochs', settings.epochs);
    checkPositiveInteger('batchSize', settings.batchSize);
    checkPositiveInteger('shardSize', settings.shardSize);
    checkPositiveInteger('training windows', windows.trainWindows);
    if (settings.maxSteps !== undefined) checkPositiveInteger('maxSteps', settings.maxSteps);
    if (!Number.isSafeInteger(settings.seed)) throw new RangeError(`seed must be a safe integer, got ${settings.seed}`);
    this.shuffle = settings.shuffle ?? { version: 1 };
    if (this.shuffle.version === 2) {
      checkPositiveInteger('blockWindows', this.shuffle.blockWindows);
      checkPositiveInteger('groupBlocks', this.shuffle.groupBlocks);
    }
    this.settings = settings;
    this.trainWindows = windows.trainWindows;
    this.validationWindows = windows.validationWindows;
    this.stepsPerEpoch = Math.ceil(windows.trainWindows / settings.batchSize);
    const uncapped = settings.epochs * this.stepsPerEpoch;
    this.totalSteps = settings.maxSteps === undefined ? uncapped : Math.min(uncapped, settings.maxSteps);
    this.validationShards = Math.ceil(windows.validationWindows / settings.shardSize);
  }

  /** Global step (0-based, across epochs) -> epoch and step within it. */
  position(globalStep: number): StepPosition {
    if (!Number.isSafeInteger(globalStep) || globalStep < 0) throw new RangeError(`step must be a non-negative integer, got ${globalStep}`);
    return { epoch: Math.floor(globalStep / this.stepsPerEpoch), stepInEpoch: globalStep % this.stepsPerEpoch };
  }

  globalStep(position: StepPosition): number {
    return position.epoch * this.stepsPerEpoch + position.stepInEpoch;
  }

  /** Windows in the batch of that step: batchSize, or fewer in an epoch's last step. */
  batchLength(stepInEpoch: number): number {
    this.checkStep(stepInEpoch);
    return Math.min(this.settings.batchSize, this.trainWindows - stepInEpoch * this.settings.batchSize);
  }

  shardsInStep(stepInEpoch: number): number {
    return Math.ceil(this.batchLength(stepInEpoch) / this.settings.shardSize);
  }

  /** Version 1's whole permutation of an epoch (a version-2 plan never builds one). */
  permutation(epoch: number): Uint32Array {
    checkEpoch(epoch);
    if (this.shuffle.version !== 1) throw new RangeError(`shuffle version ${this.shuffle.version} has no permutation array`);
    if (this.cached?.epoch !== epoch) {
      this.cached = { epoch, order: shufflePermutation(this.settings.seed, epoch, this.trainWindows) };
    }
    return this.cached.order;
  }

  /** The training window indices of a step's whole batch, in order. */
  batchWindows(position: StepPosition): Uint32Array {
    const start = position.stepInEpoch * this.settings.batchSize;
    return this.orderSlice(position.epoch, start, start + this.batchLength(position.stepInEpoch));
  }

  /** The training window indices of one shard, in order. */
  shardWindows(ref: ShardRef): Uint32Array {
    const shards = this.shardsInStep(ref.stepInEpoch);
    if (!Number.isInteger(ref.shard) || ref.shard < 0 || ref.shard >= shards) {
      throw new RangeError(`shard ${ref.shard} does not exist in step ${ref.stepInEpoch} of epoch ${ref.epoch} (${shards} shards)`);
    }
    const batchStart = ref.stepInEpoch * this.settings.batchSize;
    const start = batchStart + ref.shard * this.settings.shardSize;
    const end = Math.min(start + this.settings.shardSize, batchStart + this.batchLength(ref.stepInEpoch));
    return this.orderSlice(ref.epoch, start, end);
  }

  /** Positions [start, end) of the epoch's order. */
  private orderSlice(epoch: number, start: number, end: number): Uint32Array {
    if (this.shuffle.version === 1) return this.permutation(epoch).slice(start, end);
    checkEpoch(epoch);
    if (this.cachedBlocks?.epoch !== epoch) {
      this.cachedBlocks = { epoch, order: new BlockShuffle(this.settings.seed, epoch, this.trainWindows, this.shuffle) };
    }
    const windows = new Uint32Array(end - start);
    for (let i = 0; i < windows.length; i++) windows[i] = this.cachedBlocks.order.at(start + i);
    return windows;
  }

  /** The validation window indices of validation shard `index`, in order. */
  validationShardWindows(index: number): Uint32Array {
    if (!Number.isInteger(index) || index < 0 || index >= this.validationShards) {
      throw new RangeError(`validation shard ${index} does not exist (${this.validationShards} shards)`);
    }
    const start = index * this.settings.shardSize;
    const end = Math.min(start + this.settings.shardSize, this.validationWindows);
    const windows = new Uint32Array(end - start);
    for (let i = 0; i < windows.length; i++) windows[i] = start + i;
    return windows;
  }

  private checkStep(stepInEpoch: number): void {
    if (!Number.isInteger(stepInEpoch) || stepInEpoch < 0 || stepInEpoch >= this.stepsPerEpoch) {
      throw new RangeError(`step ${stepInEpoch} is not a step of an epoch (${this.stepsPerEpoch} steps per epoch)`);
    }
  }
}
