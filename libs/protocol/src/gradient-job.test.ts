import { describe, expect, it } from 'vitest';
import { parseShardTaskId, shardTaskId, shardTaskPrefix, type ShardTaskRef } from './gradient-job';
import { InvalidIdentifierError } from './errors/invalid-identifier-error';

describe('shard task ids', () => {
  const ref: ShardTaskRef = { jobId: 'moby-char-20260101-ab12', generation: 3, step: 42, kind: 'train', shard: 7 };

  it('carries (job, generation, step, kind, shard) without ":" and parses back', () => {
    const id = shardTaskId(ref);
    expect(id).toBe('j-moby-char-20260101-ab12-g3-s42-t7');
    expect(id).not.toContain(':');
    expect(parseShardTaskId(id)).toEqual(ref);
    expect(parseShardTaskId(shardTaskId({ ...ref, kind: 'validate' }))).toEqual({ ...ref, kind: 'validate' });
    expect(shardTaskId({ ...ref, kind: 'reduce' })).toBe('j-moby-char-20260101-ab12-g3-s42-r7');
    expect(parseShardTaskId(shardTaskId({ ...ref, kind: 'reduce' }))).toEqual({ ...ref, kind: 'reduce' });
  });

  it('is distinct for every part', () => {
    const ids = new Set([
      shardTaskId(ref),
      shardTaskId({ ...ref, generation: 4 }),
      shardTaskId({ ...ref, step: 43 }),
      shardTaskId({ ...ref, kind: 'validate' }),
      shardTaskId({ ...ref, kind: 'reduce' }),
      shardTaskId({ ...ref, shard: 8 }),
      shardTaskId({ ...ref, jobId: 'moby-char-20260101-ab13' }),
    ]);
    expect(ids.size).toBe(7);
  });

  it('shares a prefix per job and per generation', () => {
    expect(shardTaskId(ref).startsWith(shardTaskPrefix(ref.jobId))).toBe(true);
    expect(shardTaskId(ref).startsWith(shardTaskPrefix(ref.jobId, 3))).toBe(true);
    expect(shardTaskId({ ...ref, generation: 31 }).startsWith(shardTaskPrefix(ref.jobId, 3))).toBe(false);
  });

  it('parses job ids that look like the tail themselves', () => {
    const tricky: ShardTaskRef = { ...ref, jobId: 'a-g1-s2-t3' };
    expect(parseShardTaskId(shardTaskId(tricky))).toEqual(tricky);
  });

  it.each(['j-x-g1-s2', 'j-x-g1-s02-t3', 'x-g1-s2-t3', 'j-X-g1-s2-t3', 'j-x-g1-s2-t3-dup', 'j--g1-s2-t3'])('refuses %j', (id) => {
    expect(() => parseShardTaskId(id)).toThrow(InvalidIdentifierError);
  });

  it('refuses bad parts when building', () => {
    expect(() => shardTaskId({ ...ref, step: -1 })).toThrow(InvalidIdentifierError);
    expect(() => shardTaskId({ ...ref, jobId: 'a:b' })).toThrow(InvalidIdentifierError);
  });
});
