// The model a job trains: an input (float features, or token ids through an embedding), one
// or more stacked LSTM layers, and a dense head on the last timestep ('last') or on every
// timestep ('sequence', char-rnn style: the next token at every position of the window).
// Shapes: I input features, V vocabulary, E embedding, H units of a layer, K head outputs.

import * as z from 'zod';
import { ModelSpecError } from './errors/model-spec-error';
import { integerIn, mapping, nonEmptyList, oneOf, tagged } from './validation/schema-fields';
import { firstIssue, issueLine } from './validation/schema-issues';

export type ModelInput =
  | { readonly kind: 'features'; readonly size: number }
  | { readonly kind: 'tokens'; readonly vocabulary: number; readonly embedding: number };

export type ModelHead =
  { readonly kind: 'regression'; readonly outputs: number } | { readonly kind: 'classification'; readonly classes: number };

export interface ModelSpec {
  readonly input: ModelInput;
  /** Units per stacked LSTM layer; every layer but the last returns its full sequence. */
  readonly layers: readonly number[];
  /** Applied to the last timestep's hidden state, or to every timestep's with output 'sequence'. */
  readonly head: ModelHead;
  /** How fresh weights are drawn (init.ts); absent = 'keras', what models recorded before the option had. */
  readonly init?: ModelInit;
  /** Which timesteps the head reads; absent = 'last'. 'sequence' takes a classification head. */
  readonly output?: ModelOutput;
}

/** 'keras': glorot, orthogonal, unit forget bias; 'uniform': PyTorch's defaults (init.ts). */
export const MODEL_INITS = ['keras', 'uniform'] as const;
export type ModelInit = (typeof MODEL_INITS)[number];
/** 'last': one prediction per window, from its last timestep; 'sequence': one per timestep. */
export const MODEL_OUTPUTS = ['last', 'sequence'] as const;
export type ModelOutput = (typeof MODEL_OUTPUTS)[number];

// Sizes are bounded so that every offset into a flat buffer stays an exact integer.
const MAX_SIZE = 1 << 24;
const size = (): z.ZodNumber => integerIn(1, MAX_SIZE);

export const modelSpecSchema = mapping({
  input: tagged('kind', [
    mapping({ kind: z.literal('features'), size: size() }),
    mapping({ kind: z.literal('tokens'), vocabulary: size(), embedding: size() }),
  ]),
  layers: nonEmptyList(size(), 'a non-empty list of unit counts'),
  head: tagged('kind', [
    mapping({ kind: z.literal('regression'), outputs: size() }),
    mapping({ kind: z.literal('classification'), classes: integerIn(2, MAX_SIZE) }),
  ]),
  init: oneOf(MODEL_INITS).exactOptional(),
  output: oneOf(MODEL_OUTPUTS).exactOptional(),
}).superRefine((spec, context) => {
  if (spec.output === 'sequence' && spec.head.kind !== 'classification')
    context.addIssue({ code: 'custom', path: ['output'], message: 'sequence takes a classification head (token input)' });
}) satisfies z.ZodType<ModelSpec>;

/** Checks an untrusted value (parsed JSON/YAML) and returns it as a ModelSpec. */
export function validateModelSpec(value: unknown): ModelSpec {
  const parsed = modelSpecSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = issueLine(firstIssue(parsed.error), '(root)');
  throw new ModelSpecError(issue.path === '' ? '(root)' : issue.path, issue.message);
}

/** I of the first LSTM layer: the feature count, or E for token input. */
export function inputWidth(spec: ModelSpec): number {
  return spec.input.kind === 'features' ? spec.input.size : spec.input.embedding;
}

/** K: regression outputs or classes. */
export function headWidth(spec: ModelSpec): number {
  return spec.head.kind === 'regression' ? spec.head.outputs : spec.head.classes;
}

/** Predictions per window of T timesteps: T with output 'sequence', else 1. */
export function predictionsPerWindow(spec: ModelSpec, T: number): number {
  return spec.output === 'sequence' ? T : 1;
}

/** H of the last LSTM layer, the width the head reads. */
export function lastLayerUnits(spec: ModelSpec): number {
  const units = spec.layers[spec.layers.length - 1];
  if (units === undefined) throw new ModelSpecError('layers', 'must name at least one LSTM layer');
  return units;
}
