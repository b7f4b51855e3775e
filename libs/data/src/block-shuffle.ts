// Shuffle version 2: an epoch's order of n training windows in O(1) memory, with locality.
// The windows are cut into blocks of `blockWindows` consecutive windows (the last one may be
// shorter); a keyed Feistel permutation orders the blocks, the ordered blocks are cut into
// groups of `groupBlocks`, and a second Feistel permutation, keyed by the group's number,
// orders the windows of each group. An epoch visits the groups one after the other, so the
// batches of a stretch of steps draw from the windows of a few blocks only: with a block
// about one dataset segment, a shard touches at most `groupBlocks` segments and a worker's
// cache reuses them for every step of the group. A dataset of at most one block is one
// group: a plain Feistel shuffle of every window.
import { deriveSeed } from '@lstm-runner/lstm-core';
import { FeistelPermutation } from './feistel';

/** Keeps the shuffle's random streams apart from every other use of the job's seed. */
const BLOCK_STREAM = 0x424c4b53; // "BLKS"
const GROUP_STREAM = 0x47525053; // "GRPS"

export interface BlockShuffleSettings {
  readonly blockWindows: number;
  readonly groupBlocks: number;
}

export class BlockShuffle {
  private readonly blocks: FeistelPermutation;
  private readonly blockCount: number;
  /** Windows the last (short) block lacks: blockWindows - its size. */
  private readonly shortBy: number;
  /** The slot (position in block order) of the last block, and its group. */
  private readonly shortSlot: number;
  private readonly shortGroup: number;
  private readonly groupWindows: number;
  private group: { index: number; order: FeistelPermutation } | undefined;

  constructor(
    private readonly seed: number,
    private readonly epoch: number,
    windows: number,
    private readonly settings: BlockShuffleSettings,
  ) {
    const { blockWindows, groupBlocks } = settings;
    this.blockCount = Math.ceil(windows / blockWindows);
    this.shortBy = this.blockCount * blockWindows - windows;
    this.blocks = new FeistelPermutation(this.blockCount, deriveSeed(seed, epoch, BLOCK_STREAM));
    this.shortSlot = this.blocks.indexOf(this.blockCount - 1);
    this.shortGroup = Math.floor(this.shortSlot / groupBlocks);
    this.groupWindows = groupBlocks * blockWindows;
  }

  /** The window at `position` in [0, windows) of the epoch's order. */
  at(position: number): number {
    const { blockWindows, groupBlocks } = this.settings;
    // Groups before the short block's are full; those after it start shortBy earlier.
    const beforeShort = position < (this.shortGroup + 1) * this.groupWindows - this.shortBy;
    const shifted = beforeShort ? position : position + this.shortBy;
    const group = Math.floor(shifted / this.groupWindows);
    const offset = shifted - group * this.groupWindows;
    const local = this.groupOrder(group).at(offset);
    // The group's windows are its blocks' in slot order; only the short block is shorter.
    const shortAt = (this.shortSlot - group * groupBlocks) * blockWindows;
    const inGroup = group === this.shortGroup && local >= shortAt + blockWindows - this.shortBy ? local + this.shortBy : local;
    const slot = group * groupBlocks + Math.floor(inGroup / blockWindows);
    return this.blocks.at(slot) * blockWindows + (inGroup % blockWindows);
  }

  /** The permutation of group `index`'s windows (the one asked for last is kept). */
  private groupOrder(index: number): FeistelPermutation {
    if (this.group?.index !== index) {
      const { blockWindows, groupBlocks } = this.settings;
      const slots = Math.min(groupBlocks, this.blockCount - index * groupBlocks);
      const size = slots * blockWindows - (index === this.shortGroup ? this.shortBy : 0);
      this.group = { index, order: new FeistelPermutation(size, deriveSeed(this.seed, this.epoch, GROUP_STREAM, index)) };
    }
    return this.group.order;
  }
}
