// A small seeded PRNG (xoshiro128**, seeded through splitmix32) shared by initialisation,
// text sampling and the data shuffles, so that every random choice in a run is a pure
// function of the seeds in the job spec. Math.random is never used.

export interface Rng {
  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** Uniform in [0, 1), 53 random bits. */
  nextFloat(): number;
  /** Uniform integer in [0, n), without modulo bias. n must be in [1, 2^32]. */
  nextInt(n: number): number;
  /** Standard normal (Box-Muller). */
  nextNormal(): number;
}

function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/**
 * Mixes several integers (seed, epoch, purpose...) into one 32-bit seed, so that streams
 * for different purposes never overlap by accident.
 */
export function deriveSeed(...parts: readonly number[]): number {
  let state = 0x6a09e667;
  let out = 0;
  for (const part of parts) {
    if (!Number.isSafeInteger(part)) throw new RangeError(`seed part must be a safe integer, got ${part}`);
    // Fold the high bits in too: seeds above 2^32 must not collide with their low halves.
    const high = Math.floor(part / 0x100000000);
    [state, out] = splitmix32(state ^ (part >>> 0));
    [state, out] = splitmix32(state ^ out ^ (high >>> 0));
  }
  return out;
}

export function createRng(seed: number): Rng {
  let state = deriveSeed(seed);
  const words = new Uint32Array(4);
  for (let i = 0; i < 4; i++) {
    let word: number;
    [state, word] = splitmix32(state);
    words[i] = word;
  }
  if ((words[0]! | words[1]! | words[2]! | words[3]!) === 0) words[0] = 1;
  let s0 = words[0]!;
  let s1 = words[1]!;
  let s2 = words[2]!;
  let s3 = words[3]!;
  let spareNormal: number | null = null;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };
  const nextFloat = (): number => {
    const high = nextUint32() >>> 5; // 27 bits
    const low = nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  };
  return {
    nextUint32,
    nextFloat,
    nextInt(n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > 0x100000000) throw new RangeError(`nextInt bound must be in [1, 2^32], got ${n}`);
      // Rejection sampling: accept only draws below the largest multiple of n.
      const limit = 0x100000000 - (0x100000000 % n);
      for (;;) {
        const draw = nextUint32();
        if (draw < limit) return draw % n;
      }
    },
    nextNormal(): number {
      if (spareNormal !== null) {
        const value = spareNormal;
        spareNormal = null;
        return value;
      }
      let u = 0;
      while (u === 0) u = nextFloat();
      const v = nextFloat();
      const radius = Math.sqrt(-2 * Math.log(u));
      spareNormal = radius * Math.sin(2 * Math.PI * v);
      return radius * Math.cos(2 * Math.PI * v);
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
