import { describe, expect, it } from 'vitest';
import type { WorkerWait } from '@lstm-runner/job-store';
import { WorkerWatch } from './worker-watch';

describe('WorkerWatch', () => {
  it('reports a profile nobody serves once, after the grace period, and clears it when a worker comes', async () => {
    let served = ['native-t2-avx2-n0000abcd'];
    const reports: (WorkerWait | null)[] = [];
    const watch = new WorkerWatch(
      'wasm-t1-n1234abcd',
      { checkEveryMs: 10, noticeAfterMs: 100 },
      async () => served,
      async (wait) => void reports.push(wait),
    );
    await watch.look(1000);
    await watch.look(1005); // too soon to look again
    await watch.look(1050);
    expect(reports).toEqual([]);
    await watch.look(1100);
    expect(reports).toEqual([
      { profile: 'wasm-t1-n1234abcd', since: new Date(1000).toISOString(), servedProfiles: ['native-t2-avx2-n0000abcd'] },
    ]);
    await watch.look(1200);
    expect(reports).toHaveLength(1);
    served = ['wasm-t1-n1234abcd'];
    await watch.look(1300);
    expect(reports).toEqual([reports[0], null]);
    await watch.look(1400);
    expect(reports).toHaveLength(2);
  });

  it('clears a notice at the next look after a step completed, without waiting to look at the workers', async () => {
    const reports: (WorkerWait | null)[] = [];
    const watch = new WorkerWatch(
      'wasm-t1',
      { checkEveryMs: 1000, noticeAfterMs: 0 },
      async () => [],
      async (wait) => void reports.push(wait),
    );
    await watch.look(0);
    expect(reports).toHaveLength(1);
    watch.noteProgress();
    await watch.look(1);
    expect(reports).toEqual([reports[0], null]);
  });

  it('says nothing while the profile is served', async () => {
    const reports: unknown[] = [];
    const watch = new WorkerWatch(
      'wasm-t1',
      { checkEveryMs: 0, noticeAfterMs: 0 },
      async () => ['wasm-t1'],
      async (wait) => void reports.push(wait),
    );
    for (let t = 0; t < 5; t++) await watch.look(t);
    expect(reports).toEqual([]);
  });
});
