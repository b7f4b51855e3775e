import { describe, expect, it } from 'vitest';
import type { ModelSpec } from './model-spec';
import { formatParameterSummary, summarizeParameters } from './parameter-summary';

const charLm: ModelSpec = {
  input: { kind: 'tokens', vocabulary: 60, embedding: 50 },
  layers: [128],
  head: { kind: 'classification', classes: 60 },
};

describe('summarizeParameters', () => {
  it('counts per layer and per gate as Keras does', () => {
    const summary = summarizeParameters(charLm);
    expect(summary.totalParameters).toBe(102_388);
    expect(summary.layers.map((layer) => [layer.name, layer.parameters])).toEqual([
      ['embedding', 3_000],
      ['lstm_1', 91_648],
      ['dense', 7_740],
    ]);
    const lstm = summary.layers[1]!;
    expect(lstm.gates?.map((gate) => gate.gate)).toEqual(['input', 'forget', 'cell', 'output']);
    expect(lstm.gates?.[0]).toEqual({ gate: 'input', weights: (50 + 128) * 128, biases: 128 });
    const stack = summarizeParameters({
      input: { kind: 'features', size: 10 },
      layers: [64, 64, 64, 64],
      head: { kind: 'regression', outputs: 1 },
    });
    expect(stack.totalParameters).toBe(118_337);
    expect(stack.layers[0]!.parameters).toBe(19_200);
    expect(stack.layers.map((layer) => layer.returnsSequences)).toEqual([true, true, true, false, false]);
  });

  it('formats a table with a row per layer and gate and the total', () => {
    const text = formatParameterSummary(summarizeParameters(charLm));
    expect(text).toContain('lstm_1');
    expect(text).toContain('forget gate');
    expect(text).toMatch(/dense\s+128\s+60\s+7,680\s+60\s+7,740/);
    expect(text.split('\n').at(-1)).toBe('total parameters: 102,388');
  });
});
