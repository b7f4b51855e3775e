import { describe, expect, it } from 'vitest';
import { blockView, findBlock, modelGradients, modelParameters, parameterLayout } from './layout';
import type { ModelSpec } from './model-spec';

const charLm: ModelSpec = {
  input: { kind: 'tokens', vocabulary: 60, embedding: 50 },
  layers: [128],
  head: { kind: 'classification', classes: 60 },
};
const timeSeries: ModelSpec = { input: { kind: 'features', size: 10 }, layers: [64, 64, 64, 64], head: { kind: 'regression', outputs: 1 } };

describe('parameterLayout', () => {
  it('counts as Keras does', () => {
    const lstm64 = parameterLayout({ input: { kind: 'features', size: 10 }, layers: [64], head: { kind: 'regression', outputs: 1 } });
    expect(
      findBlock(lstm64, 'lstm_1/kernel').size + findBlock(lstm64, 'lstm_1/recurrent_kernel').size + findBlock(lstm64, 'lstm_1/bias').size,
    ).toBe(19_200);
    expect(parameterLayout(timeSeries).size).toBe(118_337);
    expect(parameterLayout(charLm).size).toBe(102_388);
  });

  it('lays the blocks out contiguously in Keras order with Keras names and shapes', () => {
    const layout = parameterLayout({
      input: { kind: 'tokens', vocabulary: 7, embedding: 3 },
      layers: [5, 4],
      head: { kind: 'classification', classes: 7 },
    });
    expect(layout.blocks.map((block) => [block.name, block.shape])).toEqual([
      ['embedding/embeddings', [7, 3]],
      ['lstm_1/kernel', [3, 20]],
      ['lstm_1/recurrent_kernel', [5, 20]],
      ['lstm_1/bias', [20]],
      ['lstm_2/kernel', [5, 16]],
      ['lstm_2/recurrent_kernel', [4, 16]],
      ['lstm_2/bias', [16]],
      ['dense/kernel', [4, 7]],
      ['dense/bias', [7]],
    ]);
    let offset = 0;
    for (const block of layout.blocks) {
      expect(block.offset).toBe(offset);
      offset += block.size;
    }
    expect(layout.size).toBe(offset);
  });

  it('gives views, not copies, and checks sizes', () => {
    const layout = parameterLayout(timeSeries);
    const flat = new Float64Array(layout.size);
    const bias = blockView(flat, findBlock(layout, 'dense/bias'));
    bias[0] = 3;
    expect(flat[layout.size - 1]).toBe(3);
    expect(bias).toBeInstanceOf(Float64Array);
    expect(modelParameters(timeSeries, flat).denseBias[0]).toBe(3);
    expect(modelGradients(timeSeries, flat).layers).toHaveLength(4);
    expect(() => modelParameters(timeSeries, new Float32Array(5))).toThrow(/parameters have 5 elements, the model has 118337/);
    expect(() => findBlock(layout, 'lstm_9/bias')).toThrow(/no parameter block 'lstm_9\/bias'; blocks: lstm_1\/kernel/);
  });
});
