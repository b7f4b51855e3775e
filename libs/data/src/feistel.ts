// A keyed pseudo-random permutation of [0, n) in O(1) memory: a balanced Feistel network
// over the smallest even number of bits 2h with 2^(2h) >= n (so 2^(2h) < 4n), and cycle
// walking: an image outside [0, n) is encrypted again until it falls inside, which keeps it
// a bijection of [0, n) (the walk follows x's own cycle of the 2^(2h) permutation), at
// fewer than 4 encryptions per index on average. Six rounds of a 32-bit integer mix keyed
// by round keys that come from the seed.
import { createRng } from '@lstm-runner/lstm-core';

const ROUNDS = 6;
/** 2^32: the largest domain a half of 16 bits covers (window indices are uint32). */
const MAX_SIZE = 0x100000000;

export class FeistelPermutation {
  readonly size: number;
  private readonly halfBits: number;
  private readonly halfMask: number;
  private readonly halfRange: number;
  private readonly keys = new Int32Array(ROUNDS);

  /** A permutation of [0, size) chosen by `seed` (a 32-bit seed, e.g. from deriveSeed). */
  constructor(size: number, seed: number) {
    if (!Number.isSafeInteger(size) || size < 1 || size > MAX_SIZE) {
      throw new RangeError(`a permutation's size must be an integer in [1, 2^32], got ${size}`);
    }
    this.size = size;
    let bits = 2;
    while (2 ** bits < size) bits += 2;
    this.halfBits = bits / 2;
    this.halfRange = 2 ** this.halfBits;
    this.halfMask = this.halfRange - 1;
    const rng = createRng(seed);
    for (let r = 0; r < ROUNDS; r++) this.keys[r] = rng.nextUint32() | 0;
  }

  /** The image of `index` in [0, size). */
  at(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.size) {
      throw new RangeError(`index ${index} is outside the permutation's [0, ${this.size})`);
    }
    let y = this.encrypt(index);
    while (y >= this.size) y = this.encrypt(y);
    return y;
  }

  /** The index whose image is `value`: at(indexOf(v)) === v. */
  indexOf(value: number): number {
    if (!Number.isInteger(value) || value < 0 || value >= this.size) {
      throw new RangeError(`value ${value} is outside the permutation's [0, ${this.size})`);
    }
    let x = this.decrypt(value);
    while (x >= this.size) x = this.decrypt(x);
    return x;
  }

  // One round maps (L, R) to (R, L ^ F(R)); halves are < 2^16, so all math stays in int32.
  private encrypt(x: number): number {
    let left = Math.floor(x / this.halfRange);
    let right = x & this.halfMask;
    for (let r = 0; r < ROUNDS; r++) {
      const next = left ^ (mix(right, this.keys[r]!) & this.halfMask);
      left = right;
      right = next;
    }
    return left * this.halfRange + right;
  }

  private decrypt(y: number): number {
    let left = Math.floor(y / this.halfRange);
    let right = y & this.halfMask;
    for (let r = ROUNDS - 1; r >= 0; r--) {
      const previous = right ^ (mix(left, this.keys[r]!) & this.halfMask);
      right = left;
      left = previous;
    }
    return left * this.halfRange + right;
  }
}

/** The round function: murmur3's 32-bit finalizer over the half and the round key. */
function mix(half: number, key: number): number {
  let z = (half ^ key) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}
