import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpecError } from './errors/spec-error';
import { SPEC_DEFAULTS, loadJobSpec, parseJobSpec } from './job-spec';

const designExample = `
name: moby-char
data:
  source: data/moby.txt               # relative to this file, or s3://bucket/key
  format: text
  text: { lowercase: true }
  window: { lookBack: 100, step: 1, horizon: 1 }
  validation: 0.1
model: { embedding: 50, layers: [128] }
training:
  epochs: 20
  batchSize: 128
  shardSize: 32
  optimizer: { type: adam, learningRate: 0.001 }
  clipNorm: 5
  seed: 42
  checkpointEvery: 50
  validateEvery: 200
  maxSteps: 2000
  profile: { backend: wasm, threads: 1 }
`;

const minimalCsv = {
  name: 'births',
  data: {
    source: 'births.csv',
    format: 'csv',
    csv: { features: ['births', 'day_of_week'], targets: ['births'] },
    window: { lookBack: 14 },
  },
};

function specError(text: string, file = 'spec.yaml'): SpecError {
  try {
    parseJobSpec(text, file);
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    expect((error as Error).message).not.toContain('\n');
    return error as SpecError;
  }
  throw new Error('expected a SpecError');
}

/** The minimal CSV spec with one field replaced (a dotted path); undefined removes it. */
function withField(path: string, value: unknown): string {
  const spec = structuredClone(minimalCsv) as Record<string, unknown>;
  const keys = path.split('.');
  let node = spec;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  if (value === undefined) delete node[keys[keys.length - 1]!];
  else node[keys[keys.length - 1]!] = value;
  return JSON.stringify(spec);
}

describe('parseJobSpec', () => {
  it('reads the design example', () => {
    const spec = parseJobSpec(designExample, 'moby.yaml');
    expect(spec).toEqual({
      name: 'moby-char',
      data: {
        source: 'data/moby.txt',
        format: 'text',
        text: { lowercase: true },
        window: { lookBack: 100, step: 1, horizon: 1 },
        validation: 0.1,
      },
      model: { embedding: 50, layers: [128] },
      training: {
        epochs: 20,
        batchSize: 128,
        shardSize: 32,
        optimizer: { type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
        clipNorm: 5,
        seed: 42,
        checkpointEvery: 50,
        validateEvery: 200,
        maxSteps: 2000,
        profile: { backend: 'wasm', threads: 1 },
      },
      promotion: { metric: 'loss', maxRegression: 0, require: 'auto' },
    });
  });

  it('reads the promotion section, with a metric per data format', () => {
    expect(parseJobSpec(JSON.stringify(minimalCsv), 'spec.json').promotion).toEqual({ metric: 'mae', maxRegression: 0, require: 'auto' });
    const promotion = { holdout: 's3://b/golden.csv', metric: 'rmse', maxRegression: 0.02, require: 'always' };
    expect(parseJobSpec(withField('promotion', promotion), 'spec.json').promotion).toEqual(promotion);
    expect(specError(withField('promotion', { metric: 'loss' })).message).toContain('promotion.metric');
    expect(specError(withField('promotion', { require: 'sometimes' })).message).toContain('promotion.require');
    expect(specError(withField('promotion', { maxRegression: -1 })).message).toContain('promotion.maxRegression');
    expect(specError(withField('promotion', { gate: true })).message).toContain('gate');
  });

  it('reads learning-rate schedules and early stopping, with their defaults; absent unless written', () => {
    const training = (field: string, value: unknown): Record<string, unknown> =>
      parseJobSpec(withField(`training.${field}`, value), 'spec.json').training as unknown as Record<string, unknown>;
    expect(training('learningRateSchedule', {}).learningRateSchedule).toEqual({ warmupSteps: 0, decay: 'none' });
    expect(training('learningRateSchedule', { warmupSteps: 100, decay: 'cosine' }).learningRateSchedule).toEqual({
      warmupSteps: 100,
      decay: 'cosine',
      finalFactor: 0,
    });
    const step = { warmupSteps: 0, decay: 'step', every: 500, factor: 0.5 };
    expect(training('learningRateSchedule', step).learningRateSchedule).toEqual(step);
    expect(training('earlyStopping', { patience: 3 }).earlyStopping).toEqual({ patience: 3, minDelta: 0, restoreBest: true });
    const parsed = parseJobSpec(withField('training.earlyStopping', { patience: 2, minDelta: 0.01, restoreBest: false }), 's.json');
    // A stored spec parses back to itself.
    expect(parseJobSpec(JSON.stringify(parsed), 's.json')).toEqual(parsed);
    const plain = parseJobSpec(JSON.stringify(minimalCsv), 'spec.json').training;
    expect('learningRateSchedule' in plain || 'earlyStopping' in plain).toBe(false);
    const noValidation = JSON.parse(withField('training.earlyStopping', { patience: 2 })) as { data: { validation: number } };
    noValidation.data.validation = 0;
    expect(specError(JSON.stringify(noValidation)).message).toBe(
      'spec.yaml: training.earlyStopping needs validation windows to watch: data.validation is 0',
    );
  });

  it('fills in the defaults of a minimal JSON spec', () => {
    const spec = parseJobSpec(JSON.stringify(minimalCsv), 'spec.json');
    expect(spec.data).toEqual({
      source: 'births.csv',
      format: 'csv',
      csv: { features: ['births', 'day_of_week'], targets: ['births'], normalization: 'zscore' },
      window: { lookBack: 14, step: 1, horizon: 1 },
      validation: SPEC_DEFAULTS.validation,
    });
    expect(spec.model).toEqual({ layers: [128] });
    expect(spec.training).toEqual({
      epochs: 1,
      batchSize: 128,
      shardSize: 32,
      optimizer: { type: 'adam', learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
      seed: 0,
      checkpointEvery: 100,
      profile: { backend: 'auto', threads: 1 },
    });
    const text = parseJobSpec(
      'name: t\ndata: {source: a.txt, format: text, window: {lookBack: 10}}\ntraining: {optimizer: {type: sgd}}',
      't.yaml',
    );
    expect(text.data).toMatchObject({ text: { lowercase: false } });
    expect(text.model).toEqual({ embedding: 50, layers: [128] });
    expect(text.training.optimizer).toEqual({ type: 'sgd', learningRate: 0.01, momentum: 0 });
  });

  it.each([
    ['data.window.lookBack', 0, 'spec.yaml: data.window.lookBack must be a positive integer, got 0'],
    ['data.window.lookBack', 2.5, 'spec.yaml: data.window.lookBack must be a positive integer, got 2.5'],
    ['data.window.lookBack', undefined, 'spec.yaml: data.window.lookBack is required'],
    ['data.window.step', -1, 'spec.yaml: data.window.step must be a positive integer, got -1'],
    ['data.window.horizon', '2', 'spec.yaml: data.window.horizon must be a positive integer, got "2"'],
    ['training.batchSize', 0, 'spec.yaml: training.batchSize must be a positive integer, got 0'],
    ['training.shardSize', null, 'spec.yaml: training.shardSize must be a positive integer, got null'],
    ['data.validation', 1, 'spec.yaml: data.validation must be a number in [0, 1), got 1'],
    ['data.validation', -0.1, 'spec.yaml: data.validation must be a number in [0, 1), got -0.1'],
    ['data.format', 'parquet', 'spec.yaml: data.format must be one of text, csv, got "parquet"'],
    ['data.csv.normalization', 'robust', 'spec.yaml: data.csv.normalization must be one of zscore, minmax, got "robust"'],
    ['data.csv.features', [], 'spec.yaml: data.csv.features must be a non-empty list of column names, got a list []'],
    ['data.csv.targets', ['a', 'a'], 'spec.yaml: data.csv.targets names column "a" twice'],
    ['data.csv', undefined, 'spec.yaml: data.csv is required'],
    ['data.text', { lowercase: true }, 'spec.yaml: data.text applies to format text only; data.format is csv'],
    ['model.embedding', 50, 'spec.yaml: model.embedding applies to text data only (data.format is csv)'],
    ['model.layers', [64, 0], 'spec.yaml: model.layers[1] must be a positive integer, got 0'],
    ['model.init', 'glorot', 'spec.yaml: model.init must be one of keras, uniform, got "glorot"'],
    ['model.output', 'sequence', 'spec.yaml: model.output applies to text data only (data.format is csv)'],
    ['training.optimizer.beta1', 1.5, 'spec.yaml: training.optimizer.beta1 must be a number in [0, 1), got 1.5'],
    ['training.optimizer.momentum', 0.9, 'spec.yaml: training.optimizer.momentum does not apply to the adam optimizer'],
    ['training.clipNorm', 0, 'spec.yaml: training.clipNorm must be a positive number, got 0'],
    ['training.seed', -1, 'spec.yaml: training.seed must be a non-negative integer, got -1'],
    [
      'training.learningRateSchedule',
      { decay: 'linear' },
      'spec.yaml: training.learningRateSchedule.decay must be one of none, cosine, step, got "linear"',
    ],
    [
      'training.learningRateSchedule',
      { warmupSteps: -1 },
      'spec.yaml: training.learningRateSchedule.warmupSteps must be a non-negative integer, got -1',
    ],
    [
      'training.learningRateSchedule',
      { decay: 'step', every: 100 },
      'spec.yaml: training.learningRateSchedule.factor is required for decay step',
    ],
    [
      'training.learningRateSchedule',
      { decay: 'cosine', every: 100 },
      'spec.yaml: training.learningRateSchedule.every does not apply to decay cosine',
    ],
    [
      'training.learningRateSchedule',
      { finalFactor: 0.1 },
      'spec.yaml: training.learningRateSchedule.finalFactor does not apply to decay none',
    ],
    [
      'training.learningRateSchedule',
      { decay: 'step', every: 10, factor: 1 },
      'spec.yaml: training.learningRateSchedule.factor must be a number in (0, 1), got 1',
    ],
    [
      'training.learningRateSchedule',
      { decay: 'cosine', finalFactor: 2 },
      'spec.yaml: training.learningRateSchedule.finalFactor must be a number in [0, 1], got 2',
    ],
    ['training.earlyStopping', {}, 'spec.yaml: training.earlyStopping.patience is required'],
    ['training.earlyStopping', { patience: 0 }, 'spec.yaml: training.earlyStopping.patience must be a positive integer, got 0'],
    ['training.earlyStopping', { patience: 2, minDelta: -1 }, 'spec.yaml: training.earlyStopping.minDelta must be a number >= 0, got -1'],
    ['name', 'a/b', `spec.yaml: name must be 1-100 letters, digits, '.', '_' or '-' (starting with a letter or digit), got "a/b"`],
    ['name', undefined, 'spec.yaml: name is required'],
    [
      'training.profile.backend',
      'GPU!',
      'spec.yaml: training.profile.backend must be a backend name such as auto, wasm, cpu or native, got "GPU!"',
    ],
  ])('%s = %j: %s', (path, value, message) => {
    const error = specError(withField(path, value));
    expect(error.message).toBe(message);
    expect(error.path).toBeDefined();
  });

  it('keeps model.init and model.output as written, absent when not written (the job records the defaults)', () => {
    const text = (model: string, window = '{ lookBack: 100 }'): string =>
      `name: t\ndata: { source: a.txt, format: text, window: ${window} }\nmodel: ${model}\n`;
    expect(parseJobSpec(text('{ init: uniform, output: sequence }'), 's.yaml').model).toEqual({
      embedding: SPEC_DEFAULTS.embedding,
      layers: SPEC_DEFAULTS.layers,
      init: 'uniform',
      output: 'sequence',
    });
    expect(parseJobSpec(text('{}'), 's.yaml').model).toEqual({ embedding: SPEC_DEFAULTS.embedding, layers: SPEC_DEFAULTS.layers });
    expect(parseJobSpec(withField('model.init', 'keras'), 's.yaml').model).toEqual({ layers: SPEC_DEFAULTS.layers, init: 'keras' });
    expect(() => parseJobSpec(text('{ output: sequence }', '{ lookBack: 100, horizon: 3 }'), 's.yaml')).toThrow(
      's.yaml: model.output sequence predicts the next character at every position: it needs data.window.horizon 1, not 3',
    );
  });

  it('names an unknown field and lists the fields of its level', () => {
    expect(specError(withField('data.window.lookback', 10)).message).toBe(
      'spec.yaml: data.window.lookback is not a field of data.window; its fields are: lookBack, step, horizon',
    );
    expect(specError(withField('trainng', {})).message).toBe(
      'spec.yaml: trainng is not a field of the spec; its fields are: name, data, model, training, promotion',
    );
    expect(specError(withField('training.profile.gpu', true)).message).toBe(
      'spec.yaml: training.profile.gpu is not a field of training.profile; its fields are: backend, threads',
    );
  });

  it('gives file:line for YAML and JSON syntax errors', () => {
    const duplicate = specError('name: x\ndata:\n  source: a\n  source: b\n');
    expect(duplicate.message).toBe('spec.yaml:4:3: Map keys must be unique');
    expect(duplicate.line).toBe(4);
    expect(specError('{"name": "x",,\n}', 'spec.json').message).toMatch(/^spec\.json:1:\d+: /);
    expect(specError('name: x\ndata:\n\tsource: a\n').message).toBe('spec.yaml:3:1: Tabs are not allowed as indentation');
  });

  it('rejects an empty spec and a spec that is not a mapping', () => {
    expect(specError('').message).toBe('spec.yaml: the spec is empty');
    expect(specError('- a\n- b\n').message).toBe('spec.yaml: the spec must be a mapping of fields, got a list ["a","b"]');
  });
});

describe('loadJobSpec', () => {
  it('resolves data.source against the spec file, keeping s3:// URLs and absolute paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spec-'));
    const path = join(dir, 'spec.yaml');
    writeFileSync(path, withField('data.source', 'data/births.csv'));
    expect((await loadJobSpec(path)).data.source).toBe(join(dir, 'data', 'births.csv'));
    writeFileSync(path, withField('data.source', 's3://bucket/births.csv'));
    expect((await loadJobSpec(path)).data.source).toBe('s3://bucket/births.csv');
    writeFileSync(path, withField('data.source', '/srv/births.csv'));
    expect((await loadJobSpec(path)).data.source).toBe('/srv/births.csv');
    writeFileSync(path, withField('promotion', { holdout: 'golden/births.csv' }));
    expect((await loadJobSpec(path)).promotion?.holdout).toBe(join(dir, 'golden', 'births.csv'));
  });

  it('reports a missing spec file', async () => {
    await expect(loadJobSpec('/nonexistent/spec.yaml')).rejects.toThrow(new SpecError('/nonexistent/spec.yaml', 'spec file not found'));
  });
});
