// Job specs: JSON or YAML text -> a validated JobSpec with every default filled in, by one
// zod schema built from lstm-core's schema fields; the first problem is a SpecError of one
// line naming the file and the field path. Unknown fields are errors that list the fields
// that exist at that level, so a typo never silently falls back to a default.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import * as z from 'zod';
import {
  booleanField,
  expecting,
  MODEL_INITS,
  MODEL_OUTPUTS,
  firstIssue,
  fraction,
  issueLine,
  mapping,
  nonEmptyList,
  nonEmptyString,
  nonNegativeInteger,
  oneOf,
  positiveInteger,
  positiveNumber,
  type LearningRateSchedule,
  type ModelInit,
  type ModelOutput,
} from '@lstm-runner/lstm-core';
import type { DataSpec, NormalizationMethod } from '@lstm-runner/data';
import { SpecError } from './errors/spec-error';
import { earlyStoppingSchema, learningRateScheduleSchema, type EarlyStoppingSpec } from './training-rules';

export type { DataSpec, WindowSettings } from '@lstm-runner/data';

export type OptimizerSpec =
  | { readonly type: 'adam'; readonly learningRate: number; readonly beta1: number; readonly beta2: number; readonly epsilon: number }
  | { readonly type: 'sgd'; readonly learningRate: number; readonly momentum: number };

/** The numerics profile: results are bit-identical only within one profile. */
export interface ProfileSpec {
  /** A backend name ('wasm', 'cpu', 'native', ...) or 'auto': resolved when the job is submitted, against the profiles live workers serve. */
  readonly backend: string;
  readonly threads: number;
}

export interface TrainingSpec {
  readonly epochs: number;
  readonly batchSize: number;
  readonly shardSize: number;
  readonly optimizer: OptimizerSpec;
  /** Global gradient norm clip; undefined = no clipping. */
  readonly clipNorm?: number;
  readonly seed: number;
  readonly checkpointEvery: number;
  /** Validate every N steps (besides each epoch end and the end of the run); undefined = only those. */
  readonly validateEvery?: number;
  readonly maxSteps?: number;
  readonly profile: ProfileSpec;
  /** How the optimizer's learning rate moves over the run; undefined = constant. */
  readonly learningRateSchedule?: LearningRateSchedule;
  /** Stop when the validation loss stops improving; undefined = run every step. */
  readonly earlyStopping?: EarlyStoppingSpec;
}

export interface JobModelSpec {
  /** Embedding width for text data; undefined for CSV data. */
  readonly embedding?: number;
  /** Units of each stacked LSTM layer. */
  readonly layers: readonly number[];
  /** How fresh weights are drawn; absent = SPEC_DEFAULTS.init of the data format, recorded in the job's model when it is created. */
  readonly init?: ModelInit;
  /** Text only: predict after the last character ('last') or after every one ('sequence'); absent = SPEC_DEFAULTS.textOutput. */
  readonly output?: ModelOutput;
}

/** What a completed run must show to become the model's production version (docs/operations.md). */
export interface PromotionSpec {
  /** A fixed evaluation file (a path, relative to the spec file, or s3://bucket/key); else the new run's validation windows. */
  readonly holdout?: string;
  /** CSV: mae or rmse in original units; text: loss (nats per character). */
  readonly metric: PromotionMetric;
  /** Relative: 0.02 lets a version 2% worse than production pass. */
  readonly maxRegression: number;
  /** auto: gate when a comparable production version exists; always: never promote without passing; never: promote every run. */
  readonly require: PromotionRequirement;
}

export type PromotionMetric = 'mae' | 'rmse' | 'loss';
export type PromotionRequirement = 'auto' | 'always' | 'never';

export interface JobSpec {
  readonly name: string;
  readonly data: DataSpec;
  readonly model: JobModelSpec;
  readonly training: TrainingSpec;
  /** Filled in by parsing (absent only in specs built in code). */
  readonly promotion?: PromotionSpec;
}

export const SPEC_DEFAULTS = {
  validation: 0.1,
  window: { step: 1, horizon: 1 },
  text: { lowercase: false },
  normalization: 'zscore' as NormalizationMethod,
  embedding: 50,
  layers: [128],
  /**
   * For new jobs, by data format (docs/benchmarks.md, "The learning comparison"): PyTorch's
   * uniform init learned faster per step on text; time series keep Keras's until measured.
   * A job recorded without an init was initialised 'keras' (lstm-core's absent).
   */
  init: { text: 'uniform' as ModelInit, csv: 'keras' as ModelInit },
  /** For new text jobs (measured as above); time-series models always predict from the last timestep. */
  textOutput: 'sequence' as ModelOutput,
  epochs: 1,
  batchSize: 128,
  shardSize: 32,
  adam: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  sgd: { learningRate: 0.01, momentum: 0 },
  seed: 0,
  checkpointEvery: 100,
  profile: { backend: 'auto', threads: 1 },
  promotion: { maxRegression: 0, require: 'auto' as PromotionRequirement },
} as const;

/** The promotion metric of a data format when the spec names none. */
export function defaultPromotionMetric(format: DataSpec['format']): PromotionMetric {
  return format === 'csv' ? 'mae' : 'loss';
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
const BACKEND_NAME = /^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$/;

const nameSchema = z
  .string(expecting('a non-empty string'))
  .regex(NAME, expecting("1-100 letters, digits, '.', '_' or '-' (starting with a letter or digit)"));

const columnList = nonEmptyList(nonEmptyString(), 'a non-empty list of column names').superRefine((names, context) => {
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) context.addIssue({ code: 'custom', message: `names column "${duplicate}" twice` });
});

const windowSchema = mapping({
  lookBack: positiveInteger(),
  step: positiveInteger().default(SPEC_DEFAULTS.window.step),
  horizon: positiveInteger().default(SPEC_DEFAULTS.window.horizon),
});

const csvSchema = mapping({
  features: columnList,
  targets: columnList,
  seriesBy: nonEmptyString().optional(),
  normalization: oneOf(['zscore', 'minmax']).default(SPEC_DEFAULTS.normalization),
});

const dataSchema = mapping({
  source: nonEmptyString(),
  format: oneOf(['text', 'csv']),
  text: mapping({ lowercase: booleanField().default(SPEC_DEFAULTS.text.lowercase) }).optional(),
  csv: csvSchema.optional(),
  window: windowSchema,
  validation: fraction(0, 1).default(SPEC_DEFAULTS.validation),
})
  .superRefine((data, context) => {
    const other = data.format === 'text' ? 'csv' : 'text';
    if (data[other] !== undefined)
      context.addIssue({ code: 'custom', path: [other], message: `applies to format ${other} only; data.format is ${data.format}` });
    if (data.format === 'csv' && data.csv === undefined) context.addIssue({ code: 'custom', path: ['csv'], message: 'is required' });
  })
  .transform(({ source, format, text, csv, window, validation }): DataSpec => {
    if (format === 'csv' && csv !== undefined) {
      const { seriesBy, ...columns } = csv;
      return { source, format, csv: seriesBy === undefined ? columns : { ...columns, seriesBy }, window, validation };
    }
    return { source, format: 'text', text: text ?? { lowercase: SPEC_DEFAULTS.text.lowercase }, window, validation };
  });

const modelSchema = mapping({
  embedding: positiveInteger().optional(),
  layers: nonEmptyList(positiveInteger(), 'a non-empty list of unit counts').default([...SPEC_DEFAULTS.layers]),
  init: oneOf(MODEL_INITS).optional(),
  output: oneOf(MODEL_OUTPUTS).optional(),
}).prefault({});

const ADAM_ONLY = ['beta1', 'beta2', 'epsilon'] as const;
const optimizerSchema = mapping({
  type: oneOf(['adam', 'sgd']).default('adam'),
  learningRate: positiveNumber().optional(),
  momentum: fraction(0, 1).optional(),
  beta1: fraction(0, 1).optional(),
  beta2: fraction(0, 1).optional(),
  epsilon: positiveNumber().optional(),
})
  .superRefine((optimizer, context) => {
    const foreign = optimizer.type === 'adam' ? (['momentum'] as const) : ADAM_ONLY;
    for (const key of foreign) {
      if (optimizer[key] !== undefined)
        context.addIssue({ code: 'custom', path: [key], message: `does not apply to the ${optimizer.type} optimizer` });
    }
  })
  .transform((o): OptimizerSpec => {
    if (o.type === 'sgd')
      return {
        type: 'sgd',
        learningRate: o.learningRate ?? SPEC_DEFAULTS.sgd.learningRate,
        momentum: o.momentum ?? SPEC_DEFAULTS.sgd.momentum,
      };
    const adam = SPEC_DEFAULTS.adam;
    return {
      type: 'adam',
      learningRate: o.learningRate ?? adam.learningRate,
      beta1: o.beta1 ?? adam.beta1,
      beta2: o.beta2 ?? adam.beta2,
      epsilon: o.epsilon ?? adam.epsilon,
    };
  })
  .prefault({});

const profileSchema = mapping({
  backend: z
    .string(expecting('a non-empty string'))
    .regex(BACKEND_NAME, expecting('a backend name such as auto, wasm, cpu or native'))
    .default(SPEC_DEFAULTS.profile.backend),
  threads: positiveInteger().default(SPEC_DEFAULTS.profile.threads),
}).prefault({});

const trainingSchema = mapping({
  epochs: positiveInteger().default(SPEC_DEFAULTS.epochs),
  batchSize: positiveInteger().default(SPEC_DEFAULTS.batchSize),
  shardSize: positiveInteger().default(SPEC_DEFAULTS.shardSize),
  optimizer: optimizerSchema,
  clipNorm: positiveNumber().optional(),
  seed: nonNegativeInteger().default(SPEC_DEFAULTS.seed),
  checkpointEvery: positiveInteger().default(SPEC_DEFAULTS.checkpointEvery),
  validateEvery: positiveInteger().optional(),
  maxSteps: positiveInteger().optional(),
  profile: profileSchema,
  learningRateSchedule: learningRateScheduleSchema.optional(),
  earlyStopping: earlyStoppingSchema.optional(),
})
  .prefault({})
  .transform((training): TrainingSpec => withoutUndefined(training));

const promotionSchema = mapping({
  holdout: nonEmptyString().optional(),
  metric: oneOf(['mae', 'rmse', 'loss']).optional(),
  maxRegression: z.number(expecting('a number >= 0')).min(0, expecting('a number >= 0')).default(SPEC_DEFAULTS.promotion.maxRegression),
  require: oneOf(['auto', 'always', 'never']).default(SPEC_DEFAULTS.promotion.require),
}).prefault({});

/** A job spec, parsed: defaults filled in; a stored spec parses back to itself. */
export const jobSpecSchema = mapping({
  name: nameSchema,
  data: dataSchema,
  model: modelSchema,
  training: trainingSchema,
  promotion: promotionSchema,
})
  .superRefine((spec, context) => {
    for (const field of ['embedding', 'output'] as const) {
      if (spec.data.format === 'csv' && spec.model[field] !== undefined)
        context.addIssue({ code: 'custom', path: ['model', field], message: 'applies to text data only (data.format is csv)' });
    }
    if (spec.model.output === 'sequence' && spec.data.window.horizon !== 1) {
      const message = `sequence predicts the next character at every position: it needs data.window.horizon 1, not ${spec.data.window.horizon}`;
      context.addIssue({ code: 'custom', path: ['model', 'output'], message });
    }
    if (spec.training.earlyStopping !== undefined && spec.data.validation === 0) {
      const message = 'needs validation windows to watch: data.validation is 0';
      context.addIssue({ code: 'custom', path: ['training', 'earlyStopping'], message });
    }
    const metric = spec.promotion.metric;
    if (metric !== undefined && (metric === 'loss') !== (spec.data.format === 'text')) {
      const allowed = spec.data.format === 'csv' ? 'mae or rmse' : 'loss';
      context.addIssue({ code: 'custom', path: ['promotion', 'metric'], message: `must be ${allowed} for ${spec.data.format} data` });
    }
  })
  .transform(({ name, data, model, training, promotion }): JobSpec => {
    const choices = withoutUndefined({ init: model.init, output: model.output });
    return {
      name,
      data,
      model:
        data.format === 'csv'
          ? { layers: model.layers, ...choices }
          : { embedding: model.embedding ?? SPEC_DEFAULTS.embedding, layers: model.layers, ...choices },
      training,
      promotion: withoutUndefined({ ...promotion, metric: promotion.metric ?? defaultPromotionMetric(data.format) }),
    };
  });

/** The object without its undefined fields (optional fields are absent, not undefined). */
function withoutUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** Validates a parsed spec (JSON/YAML value) and fills in the defaults. */
export function validateJobSpec(value: unknown, fileName: string): JobSpec {
  if (value === null || value === undefined) throw new SpecError(fileName, 'the spec is empty');
  const parsed = jobSpecSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = firstIssue(parsed.error);
  const line = issueLine(issue, 'the spec');
  // An unknown field's line names its own path; every other one is `<path> <message>`.
  if (issue.code === 'unrecognized_keys') throw new SpecError(fileName, line.text);
  throw new SpecError(fileName, line.message, { path: line.path === '' ? 'the spec' : line.path });
}

/** Parses JSON or YAML spec text; `fileName` is what errors call the file. Sources are left as written. */
export function parseJobSpec(text: string, fileName: string): JobSpec {
  const document = parseDocument(text);
  const syntax = document.errors[0];
  if (syntax !== undefined) {
    const at = syntax.linePos?.[0];
    const message = syntax.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new SpecError(fileName, message, at === undefined ? {} : { line: at.line, column: at.col });
  }
  return validateJobSpec(document.toJS(), fileName);
}

/** Reads a spec file; a relative `data.source` is resolved against the spec file's directory (s3:// URLs are kept). */
export async function loadJobSpec(path: string): Promise<JobSpec> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SpecError(
      path,
      code === 'ENOENT' ? 'spec file not found' : `cannot read the spec file (${code ?? String(error)})`,
      {},
      { cause: error },
    );
  }
  const spec = parseJobSpec(text, path);
  const relative = (source: string): string => (/^s3:\/\//i.test(source) || isAbsolute(source) ? source : resolve(dirname(path), source));
  const holdout = spec.promotion?.holdout;
  return {
    ...spec,
    data: { ...spec.data, source: relative(spec.data.source) },
    ...(spec.promotion === undefined || holdout === undefined ? {} : { promotion: { ...spec.promotion, holdout: relative(holdout) } }),
  };
}
