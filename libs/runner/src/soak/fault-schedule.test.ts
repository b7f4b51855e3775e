import { describe, expect, it } from 'vitest';
import { countByKind, DEFAULT_FAULT_DURATIONS, FAULT_KINDS, faultSchedule } from './fault-schedule';

describe('faultSchedule', () => {
  const options = { seed: 7, steps: 300, faults: 36, workers: 3 };

  it('is a pure function of its options', () => {
    expect(faultSchedule(options)).toEqual(faultSchedule(options));
    expect(faultSchedule({ ...options, seed: 8 })).not.toEqual(faultSchedule(options));
  });

  it('fires at distinct steps, in order, in the first half of the run', () => {
    const faults = faultSchedule(options);
    expect(faults).toHaveLength(36);
    expect(faults.map((fault) => fault.index)).toEqual(faults.map((_, i) => i));
    const steps = faults.map((fault) => fault.atStep);
    expect(new Set(steps).size).toBe(36);
    expect([...steps].sort((a, b) => a - b)).toEqual(steps);
    expect(Math.min(...steps)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...steps)).toBeLessThanOrEqual(150);
    const late = faultSchedule({ ...options, firstStep: 200, lastStep: 290 }).map((fault) => fault.atStep);
    expect(Math.min(...late)).toBeGreaterThanOrEqual(200);
    expect(Math.max(...late)).toBeLessThanOrEqual(290);
  });

  it('draws every kind before any twice, workers in range, durations within their kind', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const faults = faultSchedule({ ...options, seed, faults: 8 });
      const counts = countByKind(faults);
      expect(Object.values(counts).every((count) => count >= 1)).toBe(true);
      for (const fault of faults) {
        expect(fault.worker).toBeGreaterThanOrEqual(0);
        expect(fault.worker).toBeLessThan(3);
        const [least, most] = DEFAULT_FAULT_DURATIONS[fault.kind];
        expect(fault.durationMs).toBeGreaterThanOrEqual(least);
        expect(fault.durationMs).toBeLessThanOrEqual(most);
        expect(fault.delayMs).toBeLessThanOrEqual(400);
      }
    }
    const few = faultSchedule({ ...options, faults: 3 });
    expect(new Set(few.map((fault) => fault.kind)).size).toBe(3);
  });

  it('keeps to the kinds and durations asked for', () => {
    const faults = faultSchedule({ ...options, kinds: ['store-errors', 'straggler'], durations: { straggler: [10, 10] } });
    expect(new Set(faults.map((fault) => fault.kind))).toEqual(new Set(['store-errors', 'straggler']));
    expect(faults.filter((fault) => fault.kind === 'straggler').every((fault) => fault.durationMs === 10)).toBe(true);
  });

  it('refuses plans that cannot be carried out', () => {
    expect(() => faultSchedule({ ...options, workers: 1 })).toThrow(/at least 2 workers/);
    expect(() => faultSchedule({ ...options, steps: 20, faults: 10 })).toThrow(
      /10 faults need as many distinct steps from 2 to 10, in a run of 20/,
    );
    expect(() => faultSchedule({ ...options, lastStep: 300 })).toThrow(/from 2 to 300, in a run of 300/);
    expect(() => faultSchedule({ ...options, seed: -1 })).toThrow(/seed/);
    expect(() => faultSchedule({ ...options, kinds: [] })).toThrow(/fault kinds/);
  });

  it('counts every kind, 0 included', () => {
    expect(countByKind([{ kind: 'straggler' }, { kind: 'straggler' }])).toEqual({
      ...Object.fromEntries(FAULT_KINDS.map((kind) => [kind, 0])),
      straggler: 2,
    });
  });
});
