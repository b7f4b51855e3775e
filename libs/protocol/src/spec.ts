// Job specs: JSON or YAML text -> a validated JobSpec with every default filled in. Defaults
// are merged first, then everything is validated; the first problem is a SpecError of one
// line naming the file and the field path. Unknown fields are errors that list the fields
// that exist at that level, so a typo never silently falls back to a default.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { CsvSettings, DataSpec, NormalizationMethod, WindowSettings } from '@lstm-runner/data';
import { SpecError } from './spec-error';

export type { DataSpec, WindowSettings } from '@lstm-runner/data';

export type OptimizerSpec =
  | { readonly type: 'adam'; readonly learningRate: number; readonly beta1: number; readonly beta2: number; readonly epsilon: number }
  | { readonly type: 'sgd'; readonly learningRate: number; readonly momentum: number };

/** The numerics profile: results are bit-identical only within one profile. */
export interface ProfileSpec {
  /** A backend name ('wasm', 'cpu', 'native', ...) or 'auto' (resolved when the job starts). */
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
}

export interface JobModelSpec {
  /** Embedding width for text data; undefined for CSV data. */
  readonly embedding?: number;
  /** Units of each stacked LSTM layer. */
  readonly layers: readonly number[];
}

export interface JobSpec {
  readonly name: string;
  readonly data: DataSpec;
  readonly model: JobModelSpec;
  readonly training: TrainingSpec;
}

export const SPEC_DEFAULTS = {
  validation: 0.1,
  window: { step: 1, horizon: 1 },
  text: { lowercase: false },
  normalization: 'zscore' as NormalizationMethod,
  embedding: 50,
  layers: [128],
  epochs: 1,
  batchSize: 128,
  shardSize: 32,
  adam: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
  sgd: { learningRate: 0.01, momentum: 0 },
  seed: 0,
  checkpointEvery: 100,
  profile: { backend: 'auto', threads: 1 },
} as const;

type Fields = Record<string, unknown>;

/** Validation of one spec file: every check throws a SpecError naming the file and the path. */
class SpecReader {
  constructor(readonly file: string) {}

  fail(path: string, message: string): never {
    throw new SpecError(this.file, message, { path: path === '' ? 'the spec' : path });
  }

  /** An object with only the named fields; `undefined` becomes {} when optional. */
  object(value: unknown, path: string, fields: readonly string[], required = false): Fields {
    if (value === undefined && !required) return {};
    if (value === undefined) return this.fail(path, 'is required');
    if (value === null || typeof value !== 'object' || Array.isArray(value)) this.fail(path, `must be a mapping of fields, got ${describe(value)}`);
    const where = path === '' ? 'the spec' : path;
    for (const key of Object.keys(value)) {
      if (!fields.includes(key)) {
        throw new SpecError(this.file, `${join(path, key)} is not a field of ${where}; its fields are: ${fields.join(', ')}`);
      }
    }
    return value as Fields;
  }

  required(value: unknown, path: string): unknown {
    return value === undefined ? this.fail(path, 'is required') : value;
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string' || value.trim() === '') this.fail(path, `must be a non-empty string, got ${describe(value)}`);
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, choices: readonly T[]): T {
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(path, `must be one of ${choices.join(', ')}, got ${describe(value)}`);
    }
    return value as T;
  }

  boolean(value: unknown, path: string): boolean {
    if (typeof value !== 'boolean') this.fail(path, `must be true or false, got ${describe(value)}`);
    return value;
  }

  positiveInteger(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) this.fail(path, `must be a positive integer, got ${describe(value)}`);
    return value;
  }

  nonNegativeInteger(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.fail(path, `must be a non-negative integer, got ${describe(value)}`);
    return value;
  }

  positiveNumber(value: unknown, path: string): number {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) this.fail(path, `must be a positive number, got ${describe(value)}`);
    return value;
  }

  /** A number in [low, high). */
  fraction(value: unknown, path: string, low: number, high: number): number {
    if (typeof value !== 'number' || !(value >= low && value < high)) this.fail(path, `must be a number in [${low}, ${high}), got ${describe(value)}`);
    return value;
  }

  columnList(value: unknown, path: string): string[] {
    if (!Array.isArray(value) || value.length === 0) this.fail(path, `must be a non-empty list of column names, got ${describe(value)}`);
    const names = value.map((name, i) => this.string(name, `${path}[${i}]`));
    const duplicate = names.find((name, i) => names.indexOf(name) !== i);
    if (duplicate !== undefined) this.fail(path, `names column "${duplicate}" twice`);
    return names;
  }
}

/** A field's value, or its default when absent (null is a value, and an error where a number is due). */
function orDefault(value: unknown, fallback: unknown): unknown {
  return value === undefined ? fallback : value;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'object') return `a mapping ${truncate(JSON.stringify(value))}`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function readWindow(r: SpecReader, value: unknown): WindowSettings {
  const w = r.object(value, 'data.window', ['lookBack', 'step', 'horizon'], true);
  return {
    lookBack: r.positiveInteger(r.required(w['lookBack'], 'data.window.lookBack'), 'data.window.lookBack'),
    step: r.positiveInteger(orDefault(w['step'], SPEC_DEFAULTS.window.step), 'data.window.step'),
    horizon: r.positiveInteger(orDefault(w['horizon'], SPEC_DEFAULTS.window.horizon), 'data.window.horizon'),
  };
}

function readCsvSettings(r: SpecReader, value: unknown): CsvSettings {
  const c = r.object(value, 'data.csv', ['features', 'targets', 'seriesBy', 'normalization'], true);
  const seriesBy = c['seriesBy'] === undefined ? undefined : r.string(c['seriesBy'], 'data.csv.seriesBy');
  return {
    features: r.columnList(r.required(c['features'], 'data.csv.features'), 'data.csv.features'),
    targets: r.columnList(r.required(c['targets'], 'data.csv.targets'), 'data.csv.targets'),
    ...(seriesBy === undefined ? {} : { seriesBy }),
    normalization: r.oneOf(orDefault(c['normalization'], SPEC_DEFAULTS.normalization), 'data.csv.normalization', ['zscore', 'minmax']),
  };
}

function readData(r: SpecReader, value: unknown): DataSpec {
  const d = r.object(value, 'data', ['source', 'format', 'text', 'csv', 'window', 'validation'], true);
  const source = r.string(r.required(d['source'], 'data.source'), 'data.source');
  const format = r.oneOf(r.required(d['format'], 'data.format'), 'data.format', ['text', 'csv']);
  const other = format === 'text' ? 'csv' : 'text';
  if (d[other] !== undefined) r.fail(`data.${other}`, `applies to format ${other} only; data.format is ${format}`);
  const window = readWindow(r, d['window']);
  const validation = r.fraction(orDefault(d['validation'], SPEC_DEFAULTS.validation), 'data.validation', 0, 1);
  if (format === 'csv') return { source, format, csv: readCsvSettings(r, d['csv']), window, validation };
  const t = r.object(d['text'], 'data.text', ['lowercase']);
  return { source, format, text: { lowercase: r.boolean(orDefault(t['lowercase'], SPEC_DEFAULTS.text.lowercase), 'data.text.lowercase') }, window, validation };
}

function readModel(r: SpecReader, value: unknown, data: DataSpec): JobModelSpec {
  const m = r.object(value, 'model', ['embedding', 'layers']);
  const layersValue = orDefault(m['layers'], SPEC_DEFAULTS.layers);
  if (!Array.isArray(layersValue) || layersValue.length === 0) r.fail('model.layers', `must be a non-empty list of unit counts, got ${describe(layersValue)}`);
  const layers = layersValue.map((units, i) => r.positiveInteger(units, `model.layers[${i}]`));
  if (data.format === 'csv') {
    if (m['embedding'] !== undefined) r.fail('model.embedding', 'applies to text data only (data.format is csv)');
    return { layers };
  }
  return { embedding: r.positiveInteger(orDefault(m['embedding'], SPEC_DEFAULTS.embedding), 'model.embedding'), layers };
}

function readOptimizer(r: SpecReader, value: unknown): OptimizerSpec {
  const path = 'training.optimizer';
  const o = r.object(value, path, ['type', 'learningRate', 'momentum', 'beta1', 'beta2', 'epsilon']);
  const type = r.oneOf(orDefault(o['type'], 'adam'), `${path}.type`, ['adam', 'sgd']);
  const foreign = type === 'adam' ? ['momentum'] : ['beta1', 'beta2', 'epsilon'];
  for (const key of foreign) if (o[key] !== undefined) r.fail(`${path}.${key}`, `does not apply to the ${type} optimizer`);
  if (type === 'sgd') {
    return {
      type,
      learningRate: r.positiveNumber(orDefault(o['learningRate'], SPEC_DEFAULTS.sgd.learningRate), `${path}.learningRate`),
      momentum: r.fraction(orDefault(o['momentum'], SPEC_DEFAULTS.sgd.momentum), `${path}.momentum`, 0, 1),
    };
  }
  return {
    type,
    learningRate: r.positiveNumber(orDefault(o['learningRate'], SPEC_DEFAULTS.adam.learningRate), `${path}.learningRate`),
    beta1: r.fraction(orDefault(o['beta1'], SPEC_DEFAULTS.adam.beta1), `${path}.beta1`, 0, 1),
    beta2: r.fraction(orDefault(o['beta2'], SPEC_DEFAULTS.adam.beta2), `${path}.beta2`, 0, 1),
    epsilon: r.positiveNumber(orDefault(o['epsilon'], SPEC_DEFAULTS.adam.epsilon), `${path}.epsilon`),
  };
}

function readTraining(r: SpecReader, value: unknown): TrainingSpec {
  const t = r.object(value, 'training', [
    'epochs',
    'batchSize',
    'shardSize',
    'optimizer',
    'clipNorm',
    'seed',
    'checkpointEvery',
    'validateEvery',
    'maxSteps',
    'profile',
  ]);
  const p = r.object(t['profile'], 'training.profile', ['backend', 'threads']);
  const backend = r.string(orDefault(p['backend'], SPEC_DEFAULTS.profile.backend), 'training.profile.backend');
  if (!/^[a-z][a-z0-9]*(?:-[a-z][a-z0-9]*)*$/.test(backend)) {
    r.fail('training.profile.backend', `must be a backend name such as auto, wasm, cpu or native, got ${describe(backend)}`);
  }
  const optional = (key: string, read: (v: unknown, path: string) => number): Record<string, number> =>
    t[key] === undefined ? {} : { [key]: read.call(r, t[key], `training.${key}`) };
  return {
    epochs: r.positiveInteger(orDefault(t['epochs'], SPEC_DEFAULTS.epochs), 'training.epochs'),
    batchSize: r.positiveInteger(orDefault(t['batchSize'], SPEC_DEFAULTS.batchSize), 'training.batchSize'),
    shardSize: r.positiveInteger(orDefault(t['shardSize'], SPEC_DEFAULTS.shardSize), 'training.shardSize'),
    optimizer: readOptimizer(r, t['optimizer']),
    ...optional('clipNorm', r.positiveNumber),
    seed: r.nonNegativeInteger(orDefault(t['seed'], SPEC_DEFAULTS.seed), 'training.seed'),
    checkpointEvery: r.positiveInteger(orDefault(t['checkpointEvery'], SPEC_DEFAULTS.checkpointEvery), 'training.checkpointEvery'),
    ...optional('validateEvery', r.positiveInteger),
    ...optional('maxSteps', r.positiveInteger),
    profile: { backend, threads: r.positiveInteger(orDefault(p['threads'], SPEC_DEFAULTS.profile.threads), 'training.profile.threads') },
  };
}

/** Validates a parsed spec (JSON/YAML value) and fills in the defaults. */
export function validateJobSpec(value: unknown, fileName: string): JobSpec {
  const r = new SpecReader(fileName);
  if (value === null || value === undefined) throw new SpecError(fileName, 'the spec is empty');
  const root = r.object(value, '', ['name', 'data', 'model', 'training'], true);
  const name = r.string(r.required(root['name'], 'name'), 'name');
  if (!NAME.test(name)) r.fail('name', `must be 1-100 letters, digits, '.', '_' or '-' (starting with a letter or digit), got ${describe(name)}`);
  const data = readData(r, root['data']);
  return { name, data, model: readModel(r, root['model'], data), training: readTraining(r, root['training']) };
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
    throw new SpecError(path, code === 'ENOENT' ? 'spec file not found' : `cannot read the spec file (${code ?? String(error)})`, {}, { cause: error });
  }
  const spec = parseJobSpec(text, path);
  const source = spec.data.source;
  if (/^s3:\/\//i.test(source) || isAbsolute(source)) return spec;
  return { ...spec, data: { ...spec.data, source: resolve(dirname(path), source) } };
}
