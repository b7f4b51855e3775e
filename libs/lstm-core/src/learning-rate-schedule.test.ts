import { describe, expect, it } from 'vitest';
import { scheduledLearningRate, type LearningRateSchedule } from './learning-rate-schedule';
import { createOptimizer } from './optimizer';

const lr = 0.01;
const ratesOf = (schedule: LearningRateSchedule | undefined, totalSteps: number): number[] =>
  Array.from({ length: totalSteps + 1 }, (_, step) => scheduledLearningRate(lr, schedule, step, totalSteps));

describe('scheduledLearningRate', () => {
  it('is the optimizer rate itself without a schedule, and with an empty one', () => {
    expect(ratesOf(undefined, 5)).toEqual([lr, lr, lr, lr, lr, lr]);
    expect(ratesOf({ warmupSteps: 0, decay: 'none' }, 5)).toEqual([lr, lr, lr, lr, lr, lr]);
  });

  it('warms up linearly from lr/warmupSteps to the peak at the last warmup update', () => {
    const rates = ratesOf({ warmupSteps: 4, decay: 'none' }, 6);
    expect(rates).toEqual([lr / 4, (2 * lr) / 4, (3 * lr) / 4, lr, lr, lr, lr]);
  });

  it('decays along a cosine from the end of the warmup to finalFactor x lr at the end of the run', () => {
    const schedule: LearningRateSchedule = { warmupSteps: 2, decay: 'cosine', finalFactor: 0.1 };
    const rates = ratesOf(schedule, 10);
    // Warmup: updates 0 and 1; the decay's 8 updates start at the peak.
    expect(rates.slice(0, 3)).toEqual([lr / 2, lr, lr]);
    // Halfway through the decay (update 6 = 4 of 8): 0.1 + 0.9 * 0.5.
    expect(rates[6]).toBeCloseTo(lr * 0.55, 15);
    // The last update (9 = 7 of 8), Keras's CosineDecay formula written out.
    expect(rates[9]).toBeCloseTo(lr * (0.9 * 0.5 * (1 + Math.cos((Math.PI * 7) / 8)) + 0.1), 15);
    // After the run the floor, and it stays there.
    expect(rates[10]).toBeCloseTo(lr * 0.1, 15);
    expect(scheduledLearningRate(lr, schedule, 25, 10)).toBeCloseTo(lr * 0.1, 15);
    for (let step = 2; step < 10; step++) expect(rates[step + 1]!).toBeLessThan(rates[step]!);
  });

  it('decays to 0 with finalFactor 0, and a warmup as long as the run only warms up', () => {
    expect(scheduledLearningRate(lr, { warmupSteps: 0, decay: 'cosine', finalFactor: 0 }, 0, 4)).toBe(lr);
    expect(scheduledLearningRate(lr, { warmupSteps: 0, decay: 'cosine', finalFactor: 0 }, 4, 4)).toBe(0);
    expect(ratesOf({ warmupSteps: 4, decay: 'cosine', finalFactor: 0.5 }, 4).slice(0, 4)).toEqual([lr / 4, lr / 2, (3 * lr) / 4, lr]);
    expect(scheduledLearningRate(lr, { warmupSteps: 4, decay: 'cosine', finalFactor: 0.5 }, 4, 3)).toBe(lr * 0.5);
  });

  it('decays in steps like ExponentialDecay with staircase, counting from the end of the warmup', () => {
    expect(ratesOf({ warmupSteps: 0, decay: 'step', every: 3, factor: 0.5 }, 7)).toEqual([
      lr,
      lr,
      lr,
      lr * 0.5,
      lr * 0.5,
      lr * 0.5,
      lr * 0.25,
      lr * 0.25,
    ]);
    expect(ratesOf({ warmupSteps: 2, decay: 'step', every: 3, factor: 0.1 }, 6)).toEqual([lr / 2, lr, lr, lr, lr, lr * 0.1, lr * 0.1]);
  });

  it('refuses a step that is not a non-negative integer', () => {
    expect(() => scheduledLearningRate(lr, undefined, -1, 5)).toThrow('step must be a non-negative integer, got -1');
    expect(() => scheduledLearningRate(lr, undefined, 1.5, 5)).toThrow('step must be a non-negative integer, got 1.5');
  });
});

describe('an optimizer with a scheduled rate', () => {
  const grads = [
    Float32Array.from([0.5, -0.25]),
    Float32Array.from([-0.1, 0.3]),
    Float32Array.from([0.2, 0.2]),
    Float32Array.from([0.4, -0.3]),
  ];
  const schedule: LearningRateSchedule = { warmupSteps: 2, decay: 'step', every: 1, factor: 0.5 };

  it('Adam takes each update at the schedule rate: the Keras update computed by hand', () => {
    const optimizer = createOptimizer({ type: 'adam', learningRate: lr }, 2);
    const params = Float32Array.from([1, -1]);
    const expected = [1, -1];
    const m = [0, 0];
    const v = [0, 0];
    grads.forEach((g, step) => {
      const rate = scheduledLearningRate(lr, schedule, step, grads.length);
      optimizer.apply(params, g, rate);
      const t = step + 1;
      for (let k = 0; k < 2; k++) {
        m[k] = 0.9 * m[k]! + 0.1 * g[k]!;
        v[k] = 0.999 * v[k]! + 0.001 * g[k]! * g[k]!;
        const mHat = m[k]! / (1 - 0.9 ** t);
        const vHat = v[k]! / (1 - 0.999 ** t);
        expected[k] = expected[k]! - (rate * mHat) / (Math.sqrt(vHat) + 1e-7 / Math.sqrt(1 - 0.999 ** t));
      }
    });
    // Rates 0.005, 0.01, 0.01, 0.005: not a constant rate's steps.
    expect(grads.map((_, step) => scheduledLearningRate(lr, schedule, step, grads.length))).toEqual([lr / 2, lr, lr, lr / 2]);
    params.forEach((value, k) => expect(value).toBeCloseTo(expected[k]!, 6));
    expect(optimizer.exportState().hyperparameters.learningRate).toBe(lr);
  });

  it.each(['adam', 'sgd'] as const)('%s: the default rate is the configured one, bit for bit', (type) => {
    const config = type === 'adam' ? ({ type, learningRate: lr } as const) : ({ type, learningRate: lr, momentum: 0.9 } as const);
    const implicit = Float32Array.from([1, -1]);
    const explicit = implicit.slice();
    const [a, b] = [createOptimizer(config, 2), createOptimizer(config, 2)];
    for (const g of grads) {
      a.apply(implicit, g);
      b.apply(explicit, g, scheduledLearningRate(lr, undefined, 0, 3));
    }
    expect(explicit).toEqual(implicit);
  });
});
