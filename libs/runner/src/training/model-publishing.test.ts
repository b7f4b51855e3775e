// Publishing completed runs through the promotion gate, without Redis: three runs of one
// model name, the third on data broken upstream (Fahrenheit for Celsius). Every run has the
// same weights, so the figures differ only by what each run's encoding makes of them: the
// broken run's normalization is in Fahrenheit, and on the Celsius holdout it is far worse.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createOptimizer, initializeParameters } from '@lstm-runner/lstm-core';
import { listModelVersions, readProductionModel, updateJobPointer, writeCheckpoint, type JobRecord } from '@lstm-runner/job-store';
import { loadTrainedModel } from '@lstm-runner/models';
import { validateJobSpec, type JobSpec } from '@lstm-runner/protocol';
import { openStore } from '@lstm-runner/storage';
import { createJob } from '../operations/job-submission';
import { writeSchedule, type ScheduleRecord } from '../operations/schedule-records';
import { lastOutcomeOf } from '../operations/schedules';
import { publishModel } from './model-publishing';

const dir = mkdtempSync(join(tmpdir(), 'publishing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const store = openStore(join(dir, 'store'));

function sensorCsv(fahrenheit: boolean, rows = 160, phase = 0): string {
  const lines = ['humidity,temperature'];
  for (let r = 0; r < rows; r++) {
    const celsius = 20 + 5 * Math.sin((r + phase) / 9);
    lines.push(`${(50 + 10 * Math.cos(r / 7)).toFixed(3)},${(fahrenheit ? celsius * 1.8 + 32 : celsius).toFixed(3)}`);
  }
  return `${lines.join('\n')}\n`;
}

const log: string[] = [];
const holdout = join(dir, 'golden.csv');
writeFileSync(holdout, sensorCsv(false, 60, 1000));

function specOf(promotion: Record<string, unknown>, name = 'sensors'): JobSpec {
  return validateJobSpec(
    {
      name,
      data: {
        source: 'sensors.csv',
        format: 'csv',
        csv: { features: ['humidity', 'temperature'], targets: ['temperature'] },
        window: { lookBack: 5 },
      },
      model: { layers: [4] },
      promotion,
    },
    'sensors.yaml',
  );
}

/** A completed run of `spec` on `csv`: its job and a final checkpoint with the weights every run here has. */
async function completedRun(
  spec: JobSpec,
  csv: string,
  warmStartFrom?: string,
  scheduleId?: string,
): Promise<{ record: JobRecord; prefix: string }> {
  const { record } = await createJob({
    store,
    spec,
    source: {
      name: 'sensors.csv',
      stream: (async function* () {
        yield new TextEncoder().encode(csv);
      })(),
    },
    profile: { backend: 'reference', threads: 1 },
    ...(warmStartFrom === undefined ? {} : { warmStartFrom }),
    ...(scheduleId === undefined ? {} : { scheduleId }),
  });
  const weights = initializeParameters(record.model, 7);
  const validation = { lastLoss: 0.5, bestLoss: 0.5, bestStep: 4 };
  const { prefix } = await writeCheckpoint(
    store,
    {
      jobId: record.id,
      step: 4,
      epoch: 0,
      batchInEpoch: 4,
      shuffleVersion: 1,
      datasetId: record.datasetId,
      profile: record.profile,
      validation,
      metricsCount: 4,
      generation: 1,
      fencingToken: 1,
    },
    weights,
    createOptimizer(record.spec.training.optimizer, weights.length).exportState(),
  );
  await updateJobPointer(store, record.id, null, (current) =>
    current === null ? null : { ...current, state: 'completed', checkpoint: { step: 4, prefix } },
  );
  await publishModel(store, record, { step: 4, prefix }, validation, 1, { log: (line) => log.push(line), cacheDir: join(dir, 'cache') });
  return { record, prefix };
}

describe('publishing a completed run', () => {
  it('promotes versions 1 and 2, keeps the broken version 3 unpromoted, and predict follows production', async () => {
    const spec = specOf({ holdout });
    const first = await completedRun(spec, sensorCsv(false));
    const second = await completedRun(spec, sensorCsv(false), first.prefix);
    await completedRun(spec, sensorCsv(true), second.prefix);
    const versions = await listModelVersions(store, 'sensors');
    expect(versions.map((v) => [v.version, v.promoted])).toEqual([
      [1, true],
      [2, true],
      [3, false],
    ]);
    const [v1, v2, v3] = versions;
    expect(v1!.evaluation).toMatchObject({ metric: 'mae', data: `holdout ${holdout}`, baselineVersion: null, baselineValue: null });
    expect(v2!.lineage).toEqual({ warmStartVersion: 1, warmStartFrom: first.prefix, scheduleId: null });
    expect(v2!.evaluation?.value).toBeCloseTo(v1!.evaluation!.value!, 5);
    // The broken run predicts in Fahrenheit: tens of degrees off on the Celsius holdout.
    expect(v3!.evaluation!.value!).toBeGreaterThan(Math.max(20, 3 * v3!.evaluation!.baselineValue!));
    expect(v3!.evaluation?.baselineVersion).toBe(2);
    expect(v3!.reason).toContain('is worse than production v2');
    expect((await readProductionModel(store, 'sensors'))?.version).toBe(2);
    expect((await loadTrainedModel(store, 'sensors')).origin).toContain('production v2');
    expect((await loadTrainedModel(store, 'sensors@3')).origin).toContain('v3');
  });

  it("without a holdout, compares on the new run's validation windows", async () => {
    await completedRun(specOf({}), sensorCsv(false, 200, 50));
    const latest = (await listModelVersions(store, 'sensors')).at(-1)!;
    expect(latest.evaluation?.data).toMatch(/^validation windows of dataset csv-/);
    expect(latest.evaluation?.value).toEqual(expect.any(Number));
    expect(latest.evaluation?.baselineValue).toEqual(expect.any(Number));
  });

  it('logs a firing that is not promoted with both figures, shows it as the last outcome, and keeps --keep versions', async () => {
    const spec = specOf({ holdout }, 'scheduled');
    const schedule: ScheduleRecord = {
      version: 1,
      id: 'scheduled-20261129000000-abcdef',
      name: 'scheduled',
      cron: null,
      every: '1d',
      spec,
      profile: { backend: 'reference', threads: 1 },
      createdAt: '2026-11-29T00:00:00.000Z',
      lastJobId: null,
      keep: 1,
    };
    await writeSchedule(store, schedule);
    const first = await completedRun(spec, sensorCsv(false), undefined, schedule.id);
    const broken = await completedRun(spec, sensorCsv(true), first.prefix, schedule.id);
    const line = log.find((l) =>
      l.startsWith(`model scheduled: version 2 of job ${broken.record.id} (schedule ${schedule.id}) not promoted`),
    );
    expect(line).toMatch(/mae [\d.]+ is worse than production v1's [\d.]+$/);
    const outcome = await lastOutcomeOf(store, { ...schedule, lastJobId: broken.record.id });
    expect(outcome).toMatch(/^not promoted: v2 \(mae [\d.]+ is worse than production v1's [\d.]+\)$/);
    expect(await lastOutcomeOf(store, { ...schedule, lastJobId: first.record.id })).toMatch(/^promoted: v1 is production/);
    // --keep 1: the last version and production stay; nothing was older.
    expect((await listModelVersions(store, 'scheduled')).map((v) => v.version)).toEqual([1, 2]);
    await completedRun(spec, sensorCsv(true, 170), broken.prefix, schedule.id);
    expect((await listModelVersions(store, 'scheduled')).map((v) => v.version)).toEqual([1, 3]);
    expect(log.at(-1)).toBe('model scheduled: kept the last 1 versions and production; pruned versions 2');
  });
});
