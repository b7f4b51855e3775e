// The model a job trains: an input (float features, or token ids through an embedding), one
// or more stacked LSTM layers, and a dense head on the last timestep. Shapes: I input
// features, V vocabulary, E embedding, H units of a layer, K head outputs.

import { ModelSpecError } from './model-spec-error';

export type ModelInput =
  | { readonly kind: 'features'; readonly size: number }
  | { readonly kind: 'tokens'; readonly vocabulary: number; readonly embedding: number };

export type ModelHead =
  | { readonly kind: 'regression'; readonly outputs: number }
  | { readonly kind: 'classification'; readonly classes: number };

export interface ModelSpec {
  readonly input: ModelInput;
  /** Units per stacked LSTM layer; every layer but the last returns its full sequence. */
  readonly layers: readonly number[];
  /** Applied to the last timestep's hidden state. */
  readonly head: ModelHead;
}

/** Checks an untrusted value (parsed JSON/YAML) and returns it as a ModelSpec. */
export function validateModelSpec(value: unknown): ModelSpec {
  const spec = expectObject(value, '(root)');
  const input = expectObject(spec.input, 'input');
  let validInput: ModelInput;
  if (input.kind === 'features') {
    validInput = { kind: 'features', size: expectCount(input.size, 'input.size') };
  } else if (input.kind === 'tokens') {
    validInput = {
      kind: 'tokens',
      vocabulary: expectCount(input.vocabulary, 'input.vocabulary'),
      embedding: expectCount(input.embedding, 'input.embedding'),
    };
  } else {
    throw new ModelSpecError('input.kind', `must be 'features' or 'tokens', got ${describe(input.kind)}`);
  }

  if (!Array.isArray(spec.layers)) throw new ModelSpecError('layers', `must be an array of unit counts, got ${describe(spec.layers)}`);
  if (spec.layers.length === 0) throw new ModelSpecError('layers', 'must name at least one LSTM layer');
  const layers = spec.layers.map((units: unknown, n: number) => expectCount(units, `layers[${n}]`));

  const head = expectObject(spec.head, 'head');
  let validHead: ModelHead;
  if (head.kind === 'regression') {
    validHead = { kind: 'regression', outputs: expectCount(head.outputs, 'head.outputs') };
  } else if (head.kind === 'classification') {
    const classes = expectCount(head.classes, 'head.classes');
    if (classes < 2) throw new ModelSpecError('head.classes', `must be at least 2, got ${classes}`);
    validHead = { kind: 'classification', classes };
  } else {
    throw new ModelSpecError('head.kind', `must be 'regression' or 'classification', got ${describe(head.kind)}`);
  }
  return { input: validInput, layers, head: validHead };
}

/** I of the first LSTM layer: the feature count, or E for token input. */
export function inputWidth(spec: ModelSpec): number {
  return spec.input.kind === 'features' ? spec.input.size : spec.input.embedding;
}

/** K: regression outputs or classes. */
export function headWidth(spec: ModelSpec): number {
  return spec.head.kind === 'regression' ? spec.head.outputs : spec.head.classes;
}

/** H of the last LSTM layer, the width the head reads. */
export function lastLayerUnits(spec: ModelSpec): number {
  const units = spec.layers[spec.layers.length - 1];
  if (units === undefined) throw new ModelSpecError('layers', 'must name at least one LSTM layer');
  return units;
}

function expectObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelSpecError(path, `must be an object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

// Sizes are bounded so that every offset into a flat buffer stays an exact integer.
function expectCount(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 1 << 24) {
    throw new ModelSpecError(path, `must be an integer in [1, 16777216], got ${describe(value)}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  return JSON.stringify(value) ?? String(value);
}
