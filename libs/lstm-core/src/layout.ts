// The flat parameter buffer's named layout, in Keras / TensorFlow.js layers order and names,
// so that export to model.json + weights.bin is a copy and the counts equal Keras's:
//   embedding/embeddings        [V, E]        (token input only)
//   lstm_n/kernel               [in, 4H]      n = 1, 2, ...; in = I (or E) for n = 1, else H of n-1
//   lstm_n/recurrent_kernel     [H, 4H]
//   lstm_n/bias                 [4H]          gate blocks i, f, c, o inside every 4H
//   dense/kernel                [H, K]
//   dense/bias                  [K]
// Gradients and optimizer state use the same layout.

import type { FloatArray, LstmGradients, LstmWeights } from './backend';
import { headWidth, inputWidth, lastLayerUnits, type ModelSpec } from './model-spec';

export interface ParameterBlock {
  readonly name: string;
  readonly shape: readonly number[];
  /** First element of the block in the flat buffer. */
  readonly offset: number;
  /** Number of elements: the product of shape. */
  readonly size: number;
}

export interface ParameterLayout {
  readonly blocks: readonly ParameterBlock[];
  /** Total parameter count: the flat buffer's length. */
  readonly size: number;
}

/** Blocks in Keras order; see the file comment for names and shapes. */
export function parameterLayout(spec: ModelSpec): ParameterLayout {
  const blocks: ParameterBlock[] = [];
  let offset = 0;
  const add = (name: string, shape: readonly number[]): void => {
    const size = shape.reduce((product, dimension) => product * dimension, 1);
    blocks.push({ name, shape, offset, size });
    offset += size;
  };
  if (spec.input.kind === 'tokens') add('embedding/embeddings', [spec.input.vocabulary, spec.input.embedding]);
  let width = inputWidth(spec);
  spec.layers.forEach((H, index) => {
    const n = index + 1;
    add(`lstm_${n}/kernel`, [width, 4 * H]);
    add(`lstm_${n}/recurrent_kernel`, [H, 4 * H]);
    add(`lstm_${n}/bias`, [4 * H]);
    width = H;
  });
  add('dense/kernel', [lastLayerUnits(spec), headWidth(spec)]);
  add('dense/bias', [headWidth(spec)]);
  return { blocks, size: offset };
}

/** The block called `name`; an error lists the names there are. */
export function findBlock(layout: ParameterLayout, name: string): ParameterBlock {
  const block = layout.blocks.find((candidate) => candidate.name === name);
  if (!block) throw new RangeError(`no parameter block '${name}'; blocks: ${layout.blocks.map((b) => b.name).join(', ')}`);
  return block;
}

/** A view (no copy) of one block inside a flat buffer of the layout's size. */
export function blockView<F extends FloatArray>(flat: F, block: ParameterBlock): F {
  if (block.offset + block.size > flat.length) {
    throw new RangeError(`block '${block.name}' ends at ${block.offset + block.size}, beyond the buffer's ${flat.length} elements`);
  }
  return flat.subarray(block.offset, block.offset + block.size) as F;
}

/** Views of every block of a flat buffer, grouped by layer. */
export interface ModelParameters<F extends FloatArray> {
  /** [V, E], token input only. */
  readonly embedding: F | null;
  readonly layers: readonly LstmWeights<F>[];
  /** [H, K] */
  readonly denseKernel: F;
  /** [K] */
  readonly denseBias: F;
}

/** The same views named as gradients, for the backends' backward calls. */
export interface ModelGradients<F extends FloatArray> {
  readonly dEmbedding: F | null;
  readonly layers: readonly LstmGradients<F>[];
  readonly dDenseKernel: F;
  readonly dDenseBias: F;
}

export function modelParameters<F extends FloatArray>(spec: ModelSpec, flat: F): ModelParameters<F> {
  const layout = checkedLayout(spec, flat, 'parameters');
  const view = (name: string): F => blockView(flat, findBlock(layout, name));
  return {
    embedding: spec.input.kind === 'tokens' ? view('embedding/embeddings') : null,
    layers: spec.layers.map((_, index) => ({
      kernel: view(`lstm_${index + 1}/kernel`),
      recurrentKernel: view(`lstm_${index + 1}/recurrent_kernel`),
      bias: view(`lstm_${index + 1}/bias`),
    })),
    denseKernel: view('dense/kernel'),
    denseBias: view('dense/bias'),
  };
}

export function modelGradients<F extends FloatArray>(spec: ModelSpec, flat: F): ModelGradients<F> {
  checkedLayout(spec, flat, 'gradients');
  const views = modelParameters(spec, flat);
  return {
    dEmbedding: views.embedding,
    layers: views.layers.map((layer) => ({ dKernel: layer.kernel, dRecurrentKernel: layer.recurrentKernel, dBias: layer.bias })),
    dDenseKernel: views.denseKernel,
    dDenseBias: views.denseBias,
  };
}

function checkedLayout(spec: ModelSpec, flat: FloatArray, what: string): ParameterLayout {
  const layout = parameterLayout(spec);
  if (flat.length !== layout.size) throw new RangeError(`${what} have ${flat.length} elements, the model has ${layout.size}`);
  return layout;
}
