// Per-layer and per-gate parameter counts: the data behind `lstm summary` and its table.

import { parameterLayout } from './layout';
import { headWidth, inputWidth, type ModelSpec } from './model-spec';

export type GateName = 'input' | 'forget' | 'cell' | 'output';

/** One gate of an LSTM layer: its columns of kernel + recurrent kernel, and its bias block. */
export interface GateSummary {
  readonly gate: GateName;
  /** (in + H) * H */
  readonly weights: number;
  /** H */
  readonly biases: number;
}

export interface LayerSummary {
  /** The layout's prefix: 'embedding', 'lstm_1', ..., 'dense'. */
  readonly name: string;
  readonly kind: 'embedding' | 'lstm' | 'dense';
  /** Width of what the layer reads per timestep (V for the embedding). */
  readonly inputSize: number;
  /** Width of what it emits (E, H or K). */
  readonly units: number;
  /** Whether it emits every timestep (embedding, all LSTM layers but the last). */
  readonly returnsSequences: boolean;
  readonly weights: number;
  readonly biases: number;
  readonly parameters: number;
  /** LSTM layers only, in the layout's gate order i, f, c, o. */
  readonly gates?: readonly GateSummary[];
}

export interface ParameterSummary {
  readonly layers: readonly LayerSummary[];
  readonly totalParameters: number;
}

const GATES: readonly GateName[] = ['input', 'forget', 'cell', 'output'];

export function summarizeParameters(spec: ModelSpec): ParameterSummary {
  const layers: LayerSummary[] = [];
  if (spec.input.kind === 'tokens') {
    const { vocabulary, embedding } = spec.input;
    const weights = vocabulary * embedding;
    layers.push({
      name: 'embedding',
      kind: 'embedding',
      inputSize: vocabulary,
      units: embedding,
      returnsSequences: true,
      weights,
      biases: 0,
      parameters: weights,
    });
  }
  let width = inputWidth(spec);
  spec.layers.forEach((H, index) => {
    const gateWeights = (width + H) * H;
    layers.push({
      name: `lstm_${index + 1}`,
      kind: 'lstm',
      inputSize: width,
      units: H,
      returnsSequences: index < spec.layers.length - 1,
      weights: 4 * gateWeights,
      biases: 4 * H,
      parameters: 4 * (gateWeights + H),
      gates: GATES.map((gate) => ({ gate, weights: gateWeights, biases: H })),
    });
    width = H;
  });
  const K = headWidth(spec);
  layers.push({
    name: 'dense',
    kind: 'dense',
    inputSize: width,
    units: K,
    returnsSequences: false,
    weights: width * K,
    biases: K,
    parameters: width * K + K,
  });

  const totalParameters = layers.reduce((sum, layer) => sum + layer.parameters, 0);
  // The summary and the layout are two views of one model; they must never drift apart.
  const layoutSize = parameterLayout(spec).size;
  if (totalParameters !== layoutSize) throw new Error(`summary counts ${totalParameters} parameters, the layout ${layoutSize}`);
  return { layers, totalParameters };
}

/** A plain-text table of a summary, one row per layer and one indented row per gate. */
export function formatParameterSummary(summary: ParameterSummary): string {
  const rows: string[][] = [['layer', 'in', 'out', 'weights', 'biases', 'parameters']];
  for (const layer of summary.layers) {
    const out = layer.returnsSequences ? `${layer.units} x T` : String(layer.units);
    rows.push([layer.name, String(layer.inputSize), out, count(layer.weights), count(layer.biases), count(layer.parameters)]);
    for (const gate of layer.gates ?? []) {
      rows.push([`  ${gate.gate} gate`, '', '', count(gate.weights), count(gate.biases), count(gate.weights + gate.biases)]);
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: readonly string[]): string =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ')
      .trimEnd();
  const rule = '-'.repeat(widths.reduce((sum, width) => sum + width, 0) + 2 * (widths.length - 1));
  return [line(rows[0]!), rule, ...rows.slice(1).map(line), rule, `total parameters: ${count(summary.totalParameters)}`].join('\n');
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}
