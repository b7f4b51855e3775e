import { describe, expect, it } from 'vitest';
import { ModelSpecError } from './errors/model-spec-error';
import { validateModelSpec } from './model-spec';

describe('validateModelSpec', () => {
  it('accepts both inputs and both heads', () => {
    const features = { input: { kind: 'features', size: 10 }, layers: [64, 64], head: { kind: 'regression', outputs: 1 } };
    const tokens = {
      input: { kind: 'tokens', vocabulary: 60, embedding: 50 },
      layers: [128],
      head: { kind: 'classification', classes: 60 },
    };
    expect(validateModelSpec(features)).toEqual(features);
    expect(validateModelSpec(tokens)).toEqual(tokens);
    const chosen = { ...tokens, init: 'uniform', output: 'sequence' };
    expect(validateModelSpec(chosen)).toEqual(chosen);
  });

  it.each([
    [null, '(root)'],
    [{ layers: [4], head: { kind: 'regression', outputs: 1 } }, 'input'],
    [{ input: { kind: 'pixels' }, layers: [4], head: { kind: 'regression', outputs: 1 } }, 'input.kind'],
    [{ input: { kind: 'features', size: 0 }, layers: [4], head: { kind: 'regression', outputs: 1 } }, 'input.size'],
    [{ input: { kind: 'tokens', vocabulary: 60 }, layers: [4], head: { kind: 'regression', outputs: 1 } }, 'input.embedding'],
    [{ input: { kind: 'features', size: 3 }, layers: [], head: { kind: 'regression', outputs: 1 } }, 'layers'],
    [{ input: { kind: 'features', size: 3 }, layers: [4, 2.5], head: { kind: 'regression', outputs: 1 } }, 'layers[1]'],
    [{ input: { kind: 'features', size: 3 }, layers: [4] }, 'head'],
    [{ input: { kind: 'features', size: 3 }, layers: [4], head: { kind: 'regression', outputs: '1' } }, 'head.outputs'],
    [{ input: { kind: 'features', size: 3 }, layers: [4], head: { kind: 'classification', classes: 1 } }, 'head.classes'],
    [{ input: { kind: 'features', size: 3 }, layers: [4], head: { kind: 'ranking' } }, 'head.kind'],
    [{ input: { kind: 'features', size: 3 }, layers: [4], head: { kind: 'regression', outputs: 1 }, init: 'he' }, 'init'],
    [{ input: { kind: 'features', size: 3 }, layers: [4], head: { kind: 'regression', outputs: 1 }, output: 'sequence' }, 'output'],
  ])('rejects %j naming the field %s', (value, path) => {
    let caught: unknown;
    try {
      validateModelSpec(value);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ModelSpecError);
    expect((caught as ModelSpecError).path).toBe(path);
    expect((caught as ModelSpecError).message).toContain(`${path}:`);
  });
});
