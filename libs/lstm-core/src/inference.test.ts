import { describe, expect, it } from 'vitest';
import { generate, nextTokenDistribution, predict } from './inference';
import { initializeParameters } from './init';
import { evaluateLoss, forwardLogits, nextTokenLoss } from './model';
import { createReferenceBackend } from './reference';
import { createRng } from './rng';
import type { ModelSpec } from './model-spec';

const backend = createReferenceBackend('float32');
const charLm: ModelSpec = {
  input: { kind: 'tokens', vocabulary: 12, embedding: 6 },
  layers: [16],
  head: { kind: 'classification', classes: 12 },
};
// Scaled up so that the distributions are far from uniform and argmax is well defined.
const params = initializeParameters(charLm, 9).map((value) => 3 * value);
const seedTokens = Int32Array.from([1, 5, 7, 2, 2, 9, 0, 3]);

describe('predict', () => {
  it('returns regression outputs [B,K] as they are', () => {
    const spec: ModelSpec = { input: { kind: 'features', size: 2 }, layers: [4], head: { kind: 'regression', outputs: 3 } };
    const weights = initializeParameters(spec, 1);
    const batch = { B: 2, T: 5, features: Float32Array.from({ length: 20 }, (_, k) => Math.sin(k)) };
    const outputs = predict(backend, spec, weights, batch);
    expect(outputs).toHaveLength(6);
    expect(outputs).toEqual(forwardLogits(backend, spec, weights, batch));
  });

  it('returns class probabilities for a classification head', () => {
    const probabilities = predict(backend, charLm, params, { B: 2, T: 4, tokens: seedTokens });
    expect(probabilities).toHaveLength(24);
    for (let b = 0; b < 2; b++) expect(probabilities.subarray(b * 12, (b + 1) * 12).reduce((sum, p) => sum + p, 0)).toBeCloseTo(1, 6);
  });
});

describe('nextTokenDistribution', () => {
  it('sharpens with a low temperature and flattens with a high one', () => {
    const batch = { B: 1, T: 8, tokens: seedTokens };
    const entropy = (p: Float32Array): number => -p.reduce((sum, q) => sum + (q > 0 ? q * Math.log(q) : 0), 0);
    const cold = nextTokenDistribution(backend, charLm, params, batch, 0.3);
    const normal = nextTokenDistribution(backend, charLm, params, batch);
    const hot = nextTokenDistribution(backend, charLm, params, batch, 3);
    expect(normal).toEqual(predict(backend, charLm, params, batch));
    expect(entropy(cold)).toBeLessThan(entropy(normal));
    expect(entropy(normal)).toBeLessThan(entropy(hot));
    expect(() => nextTokenDistribution(backend, charLm, params, batch, 0)).toThrow(/temperature must be a positive number/);
  });
});

describe('generate', () => {
  const options = { seedTokens, length: 40, window: 5 };

  it('gives the same text for the same seed and another for another seed', () => {
    const a = generate(backend, charLm, params, { ...options, temperature: 1, rng: createRng(1) });
    const b = generate(backend, charLm, params, { ...options, temperature: 1, rng: createRng(1) });
    const c = generate(backend, charLm, params, { ...options, temperature: 1, rng: createRng(2) });
    expect(a).toHaveLength(40);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.every((token) => token >= 0 && token < 12)).toBe(true);
  });

  it('takes the most likely token at temperature 0, reading the last `window` tokens', () => {
    const greedy = generate(backend, charLm, params, { ...options, temperature: 0, rng: createRng(1) });
    expect(generate(backend, charLm, params, { ...options, temperature: 0, rng: createRng(99) })).toEqual(greedy);
    const text = Array.from(seedTokens);
    for (const token of greedy) {
      const context = Int32Array.from(text.slice(-5));
      const probabilities = nextTokenDistribution(backend, charLm, params, { B: 1, T: context.length, tokens: context });
      expect(token).toBe(probabilities.indexOf(Math.max(...probabilities)));
      text.push(token);
    }
    // Only the window matters: a seed cut to its last 5 tokens continues the same way.
    expect(generate(backend, charLm, params, { ...options, seedTokens: seedTokens.slice(-5), temperature: 0, rng: createRng(1) })).toEqual(
      greedy,
    );
  });

  it("with output 'sequence', predicts from the last timestep: the same text as the 'last' model of the same weights", () => {
    const sequence: ModelSpec = { ...charLm, output: 'sequence' };
    const batch = { B: 2, T: 4, tokens: seedTokens };
    expect(predict(backend, sequence, params, batch)).toHaveLength(2 * 4 * 12);
    expect(nextTokenDistribution(backend, sequence, params, batch)).toEqual(nextTokenDistribution(backend, charLm, params, batch));
    const sampled = { ...options, temperature: 0.7 };
    expect(generate(backend, sequence, params, { ...sampled, rng: createRng(3) })).toEqual(
      generate(backend, charLm, params, { ...sampled, rng: createRng(3) }),
    );
  });

  it("scores the token after each window alike for 'last' and 'sequence' models (nextTokenLoss)", () => {
    const sequence: ModelSpec = { ...charLm, output: 'sequence' };
    const batch = { B: 2, T: 4, tokens: seedTokens, classes: Int32Array.from([3, 11]) };
    const probabilities = nextTokenDistribution(backend, charLm, params, batch);
    const crossEntropy = -Math.log(probabilities[3]!) - Math.log(probabilities[12 + 11]!);
    expect(nextTokenLoss(backend, charLm, params, batch)).toEqual(evaluateLoss(backend, charLm, params, batch));
    expect(nextTokenLoss(backend, charLm, params, batch).loss).toBeCloseTo(crossEntropy, 4);
    expect(nextTokenLoss(backend, sequence, params, batch).count).toBe(2);
    expect(nextTokenLoss(backend, sequence, params, batch).loss).toBeCloseTo(crossEntropy, 4);
  });

  it('uses what there is when the seed is shorter than the window', () => {
    const short = generate(backend, charLm, params, {
      seedTokens: Int32Array.from([4]),
      length: 3,
      window: 100,
      temperature: 0,
      rng: createRng(1),
    });
    const first = nextTokenDistribution(backend, charLm, params, { B: 1, T: 1, tokens: Int32Array.from([4]) });
    expect(short[0]).toBe(first.indexOf(Math.max(...first)));
  });

  it('never generates an excluded token, and otherwise draws as before', () => {
    const free = generate(backend, charLm, params, { ...options, length: 200, temperature: 5, rng: createRng(3) });
    const common = [...new Set(free)].sort((a, b) => free.filter((t) => t === b).length - free.filter((t) => t === a).length)[0]!;
    const excluded = generate(backend, charLm, params, {
      ...options,
      length: 200,
      temperature: 5,
      rng: createRng(3),
      excludedTokens: [common],
    });
    expect(free).toContain(common);
    expect(excluded).not.toContain(common);
    const greedy = generate(backend, charLm, params, { ...options, temperature: 0, rng: createRng(1) });
    const secondChoice = generate(backend, charLm, params, {
      ...options,
      length: 1,
      temperature: 0,
      rng: createRng(1),
      excludedTokens: [greedy[0]!],
    });
    expect(secondChoice[0]).not.toBe(greedy[0]);
    expect(() => generate(backend, charLm, params, { ...options, temperature: 1, rng: createRng(1), excludedTokens: [12] })).toThrow(
      /not a token of this vocabulary/,
    );
  });

  it('rejects what it cannot do', () => {
    expect(() =>
      generate(backend, charLm, params, { ...options, seedTokens: new Int32Array(0), temperature: 1, rng: createRng(1) }),
    ).toThrow(/at least one seed token/);
    const regression: ModelSpec = { input: { kind: 'features', size: 2 }, layers: [4], head: { kind: 'regression', outputs: 1 } };
    expect(() =>
      generate(backend, regression, initializeParameters(regression, 1), { ...options, temperature: 1, rng: createRng(1) }),
    ).toThrow(/token input and a classification head/);
  });
});
