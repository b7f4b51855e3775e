import { describe, expect, it } from 'vitest';
import { checkpointKeys, gradientKey, jobLatestKey, weightsKey } from '@lstm-runner/protocol';
import { MemoryStore } from '../../../../test-support/dataset-fixtures';
import { BytesMovedTally, meteredStore, type BytesMoved } from './metered-store';

describe('meteredStore', () => {
  it('counts the bytes of gradients, weights and checkpoints read and written, and nothing else', async () => {
    const moved: BytesMoved[] = [];
    const store = meteredStore(new MemoryStore(), (bytes) => moved.push(bytes));
    await store.put(weightsKey('j', 3, 1), new Uint8Array(40));
    await store.put(gradientKey('j', 1, 3, 0), new Uint8Array(24));
    await store.put(checkpointKeys('j', 3, 1).weights, new Uint8Array(40));
    await store.put(jobLatestKey('j'), '{"state":"running"}');
    await store.get(weightsKey('j', 3, 1));
    await store.getRange(gradientKey('j', 1, 3, 0), 0, 8);
    await store.get(jobLatestKey('j'));
    expect(moved).toEqual([
      { kind: 'weights', direction: 'written', bytes: 40 },
      { kind: 'gradient', direction: 'written', bytes: 24 },
      { kind: 'checkpoint', direction: 'written', bytes: 40 },
      { kind: 'weights', direction: 'read', bytes: 40 },
      { kind: 'gradient', direction: 'read', bytes: 8 },
    ]);
    expect(store.url).toBe('memory://');
  });

  it('sums reports by kind and direction until they are taken', () => {
    const tally = new BytesMovedTally();
    tally.add({ kind: 'weights', direction: 'read', bytes: 10 });
    tally.add({ kind: 'weights', direction: 'read', bytes: 5 });
    tally.add({ kind: 'gradient', direction: 'written', bytes: 7 });
    expect(tally.take()).toEqual([
      { kind: 'weights', direction: 'read', bytes: 15 },
      { kind: 'gradient', direction: 'written', bytes: 7 },
    ]);
    expect(tally.take()).toEqual([]);
  });
});
