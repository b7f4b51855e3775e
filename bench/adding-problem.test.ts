import { describe, expect, it } from 'vitest';
import { addingProblemBatch, addingProblemWindow, trainAddingProblem } from './adding-problem';
import { createReferenceBackend, createRng } from '@lstm-runner/lstm-core';

describe('addingProblemBatch', () => {
  it('fits lengths in [T, 1.1T] into a window of ceil(1.1T), left-padded with zero pairs', () => {
    expect(addingProblemWindow(20)).toBe(22);
    expect(addingProblemWindow(100)).toBe(110);
    expect(addingProblemWindow(25)).toBe(28);
    const T = 40;
    const W = addingProblemWindow(T);
    const batch = addingProblemBatch(T, 300, createRng(3));
    expect(batch.T).toBe(W);
    expect(batch.features).toHaveLength(300 * W * 2);
    const lengths = new Set<number>();
    for (let b = 0; b < 300; b++) {
      const pairs = Array.from({ length: W }, (_, t) => [batch.features[2 * (b * W + t)]!, batch.features[2 * (b * W + t) + 1]!] as const);
      const start = pairs.findIndex(([value]) => value !== 0);
      const length = W - start;
      lengths.add(length);
      expect(length).toBeGreaterThanOrEqual(T);
      expect(length).toBeLessThanOrEqual(44);
      expect(pairs.slice(start).every(([value]) => value >= -1 && value <= 1)).toBe(true);
      const marked = pairs.flatMap(([, marker], t) => (marker === 1 ? [t - start] : []));
      expect(marked).toHaveLength(2);
      expect(pairs.every(([, marker]) => marker === 0 || marker === 1)).toBe(true);
      // One mark among the first 10 pairs, one among the first T/2 - 1.
      expect(Math.min(...marked)).toBeGreaterThanOrEqual(0);
      expect(Math.min(...marked)).toBeLessThan(10);
      expect(Math.max(...marked)).toBeLessThan(T / 2 - 1);
      const sum = marked.reduce((total, t) => total + pairs[start + t]![0], 0);
      expect(batch.targets[b]).toBeCloseTo(0.5 + sum / 4, 6);
    }
    expect(lengths.size).toBe(5); // 40 ... 44
  });

  it('is a pure function of the rng', () => {
    expect(addingProblemBatch(20, 8, createRng(5))).toEqual(addingProblemBatch(20, 8, createRng(5)));
    expect(() => addingProblemBatch(8, 1, createRng(1))).toThrow(/T must be an integer >= 10/);
  });
});

describe('trainAddingProblem', () => {
  it('learns the adding problem at T = 20: >= 95% of 2,000 fresh sequences within 0.04', () => {
    const result = trainAddingProblem({
      backend: createReferenceBackend('float32'),
      T: 20,
      hidden: 32,
      batchSize: 32,
      learningRate: 0.01,
      clipNorm: 1,
      seed: 1,
      maxSteps: 1500,
      validateEvery: 50,
      validationSize: 1000,
      stopAccuracy: 0.96,
      testSize: 2000,
    });
    expect(result.stopped).toBe(true);
    expect(result.test.accuracy).toBeGreaterThanOrEqual(0.95);
    expect(result.trainingSequences).toBe(result.steps * 32);
  });
});
