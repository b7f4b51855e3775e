import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReferenceBackend, findBlock, initializeParameters, parameterLayout, predict, type ModelSpec } from '@lstm-runner/lstm-core';
import { localFileSource } from '@lstm-runner/data';
import { generateText, predictCsv } from './model-inference';
import type { TrainedModel } from './trained-model';

const model: ModelSpec = { input: { kind: 'features', size: 2 }, layers: [6], head: { kind: 'regression', outputs: 1 } };
const trained: TrainedModel = {
  name: 'sensors',
  origin: 'job sensors-1 step 9',
  model,
  weights: initializeParameters(model, 4).map((w) => 2 * w),
  encoding: {
    kind: 'csv',
    features: ['humidity', 'temperature'],
    targets: ['temperature'],
    normalization: {
      features: { method: 'minmax', min: [40, 20], max: [60, 30] },
      targets: { method: 'minmax', min: [20], max: [30] },
    },
  },
  window: { lookBack: 4, horizon: 2 },
};

// 12 rows; the columns in another order than the features, and one the model does not read.
const ROWS = 12;
const humidity = Array.from({ length: ROWS }, (_, r) => 45 + Math.sin(r));
const temperature = Array.from({ length: ROWS }, (_, r) => 25 + Math.cos(r / 2));
const csv = ['temperature,note,humidity', ...humidity.map((h, r) => `${temperature[r]},x,${h}`)].join('\n') + '\n';

/** What the model predicts, in original units, from the window of rows [first, first + 4). */
function expected(first: number): number {
  const features = new Float32Array(8);
  for (let t = 0; t < 4; t++) {
    features[2 * t] = (humidity[first + t]! - 40) / 20;
    features[2 * t + 1] = (temperature[first + t]! - 20) / 10;
  }
  return predict(createReferenceBackend('float32'), model, trained.weights, { B: 1, T: 4, features })[0]! * 10 + 20;
}

let dir: string;
let source: ReturnType<typeof localFileSource>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lstm-inference-'));
  await writeFile(join(dir, 'input.csv'), csv);
  source = localFileSource(join(dir, 'input.csv'), 'input.csv');
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('predictCsv', () => {
  it('forecasts from the last lookBack rows, for the row horizon rows past the end', async () => {
    const forecast = await predictCsv(trained, source, { all: false, backend: 'cpu' });
    expect(forecast.targets).toEqual(['temperature']);
    expect(forecast.rows).toEqual([ROWS + 2]);
    expect(forecast.values[0]![0]).toBeCloseTo(expected(ROWS - 4), 4);
  });

  it('backtests every window whose target row is in the file, in order', async () => {
    const all = await predictCsv(trained, source, { all: true, backend: 'cpu' });
    // N - lookBack - horizon + 1 windows; window `first` predicts data row first + 4 + 2 (1-based).
    expect(all.rows).toEqual(Array.from({ length: ROWS - 4 - 2 + 1 }, (_, first) => first + 6));
    all.values.forEach((values, first) => expect(values[0]).toBeCloseTo(expected(first), 4));
  });

  it('needs enough rows, and a time-series model', async () => {
    await writeFile(join(dir, 'short.csv'), csv.split('\n').slice(0, 5).join('\n'));
    const short = localFileSource(join(dir, 'short.csv'), 'short.csv');
    await expect(predictCsv(trained, short, { all: true })).rejects.toThrow(
      'short.csv: 4 data rows, the model needs at least 6 (lookBack 4 + horizon 2)',
    );
    const text: TrainedModel = { ...trained, encoding: { kind: 'text', vocabulary: ['a'], lowercase: false, unknownId: 1 } };
    await expect(predictCsv(text, source, { all: false })).rejects.toThrow(
      'sensors (job sensors-1 step 9) is a text model; predict needs a time-series model',
    );
    await expect(generateText(trained, { seed: 'a', length: 1, temperature: 0, rngSeed: 1 })).rejects.toThrow(
      'is a time-series model; generate needs a text model',
    );
  });
});

describe('generateText', () => {
  // Three characters and the unknown token (id 3), whose bias makes it by far the likeliest.
  const charModel: ModelSpec = {
    input: { kind: 'tokens', vocabulary: 4, embedding: 3 },
    layers: [5],
    head: { kind: 'classification', classes: 4 },
  };
  const weights = initializeParameters(charModel, 2);
  const denseBias = findBlock(parameterLayout(charModel), 'dense/bias');
  weights[denseBias.offset + 3] = 50;
  const textModel: TrainedModel = {
    name: 'chars',
    origin: 'job chars-1 step 0',
    model: charModel,
    weights,
    encoding: { kind: 'text', vocabulary: ['a', 'b', 'c'], lowercase: false, unknownId: 3 },
    window: { lookBack: 4, horizon: 1 },
  };

  it.each([0, 1])('never writes the unknown token (U+FFFD), however likely the model finds it, at temperature %i', async (temperature) => {
    const text = await generateText(textModel, { seed: 'ab', length: 30, temperature, rngSeed: 1, backend: 'cpu' });
    expect(text).toHaveLength(32);
    expect(text.startsWith('ab')).toBe(true);
    expect(text).toMatch(/^[abc]+$/);
  });
});
