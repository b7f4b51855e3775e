import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadManifest } from '@lstm-runner/data';
import { jobLatestKey, modelLatestKey, validateJobSpec, type JobSpec } from '@lstm-runner/protocol';
import { openStore, type ObjectStore } from '@lstm-runner/storage';
import { ScheduleError } from '../errors/schedule-error';
import { readJobPointer, readJobRecord, writeStoredJson as writeJson } from '@lstm-runner/job-store';
import { listScheduleIds, readSchedule, writeSchedule, type ScheduleRecord } from './schedule-records';
import { parseDuration, scheduleTimingOf } from './schedule-timing';
import { fireSchedule } from './schedules';

describe('parseDuration', () => {
  it('reads seconds, minutes, hours, days and sums of them', () => {
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('15m')).toBe(900_000);
    expect(parseDuration('6h')).toBe(21_600_000);
    expect(parseDuration('1d')).toBe(86_400_000);
    expect(parseDuration('1h30m')).toBe(5_400_000);
  });

  it('rejects anything else with a one-line ScheduleError', () => {
    for (const text of ['', '5', 's', '1.5h', '10x', '-1m', '1 h', '1H']) {
      expect(() => parseDuration(text)).toThrow(ScheduleError);
      expect(() => parseDuration(text)).toThrow(/^--every '.*': expected a duration such as 30s, 15m, 6h or 1d$/);
    }
    expect(() => parseDuration('0s')).toThrow("--every '0s': must be at least 1s");
  });
});

describe('scheduleTimingOf', () => {
  it('takes exactly one of --cron and --every', () => {
    expect(scheduleTimingOf({ cron: '0 3 * * *' })).toEqual({ cron: '0 3 * * *', every: null });
    expect(scheduleTimingOf({ every: '6h' })).toEqual({ cron: null, every: '6h' });
    expect(() => scheduleTimingOf({ cron: '0 3 * * *', every: '6h' })).toThrow('give either --cron or --every, not both');
    expect(() => scheduleTimingOf({})).toThrow('give --cron EXPR or --every DURATION');
  });

  it('rejects bad cron patterns, naming the pattern', () => {
    expect(() => scheduleTimingOf({ cron: '61 * * * *' })).toThrow(/^--cron '61 \* \* \* \*': .*59/);
    expect(() => scheduleTimingOf({ cron: 'every day' })).toThrow(/^--cron 'every day': /);
    expect(() => scheduleTimingOf({ cron: '0 0 30 2 *' })).toThrow(ScheduleError);
    expect(() => scheduleTimingOf({ cron: ' ' })).toThrow("--cron ' ': expected a cron pattern such as '0 3 * * *'");
    expect(() => scheduleTimingOf({ every: '2 hours' })).toThrow(ScheduleError);
  });
});

const CSV_HEADER = 'mote,humidity,temperature\n';
function csvRows(from: number, count: number): string {
  let text = '';
  for (let i = from; i < from + count; i++) text += `1,${40 + Math.sin(i / 7)},${20 + Math.cos(i / 5) * (1 + i / 500)}\n`;
  return text;
}

describe('schedule files and firings', () => {
  let dir: string;
  let store: ObjectStore;
  let spec: JobSpec;
  const schedule = (): ScheduleRecord => ({
    version: 1,
    id: 'sensors-20250101000000-abcdef',
    name: spec.name,
    cron: null,
    every: '2s',
    spec,
    profile: { backend: 'cpu', threads: 1 },
    createdAt: '2025-01-01T00:00:00.000Z',
    lastJobId: null,
  });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lstm-schedules-'));
    store = openStore(join(dir, 'store'));
    const source = join(dir, 'data.csv');
    writeFileSync(source, CSV_HEADER + csvRows(0, 200));
    spec = validateJobSpec(
      {
        name: 'sensors',
        data: {
          source,
          format: 'csv',
          csv: { features: ['humidity', 'temperature'], targets: ['temperature'] },
          window: { lookBack: 4 },
          validation: 0.2,
        },
        model: { layers: [3] },
        training: { batchSize: 16, shardSize: 8, maxSteps: 2 },
      },
      'sensors.yaml',
    );
  });

  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips through the store and is listed', async () => {
    await writeSchedule(store, schedule());
    expect(await readSchedule(store, schedule().id)).toEqual(schedule());
    expect(await listScheduleIds(store)).toEqual([schedule().id]);
    expect(await readSchedule(store, 'no-such-schedule')).toBeNull();
  });

  it('rejects a schedule file with a bad timing, naming the file', async () => {
    await writeSchedule(store, { ...schedule(), cron: '0 3 * * *' });
    await expect(readSchedule(store, schedule().id)).rejects.toThrow(
      `schedules/${schedule().id}.json: give either --cron or --every, not both`,
    );
  });

  it('fires a fresh job first, skips while it runs, then warm-starts from the model encoded like its dataset', async () => {
    expect(await fireSchedule(store, 'no-such-schedule')).toEqual({ kind: 'removed' });
    await writeSchedule(store, schedule());

    const first = await fireSchedule(store, schedule().id);
    if (first.kind !== 'started') throw new Error(`expected a started job, got ${first.kind}`);
    expect(first.warmStartFrom).toBeNull();
    expect((await readSchedule(store, schedule().id))?.lastJobId).toBe(first.jobId);
    expect(await fireSchedule(store, schedule().id)).toEqual({ kind: 'skipped', reason: `its job ${first.jobId} is still queued` });

    // The first job completes and publishes the model; new data arrives. Until its version is
    // written, a firing would start from the production before it: it waits.
    const firstRecord = await readJobRecord(store, first.jobId);
    const checkpoint = `jobs/${first.jobId}/checkpoints/0000000002/`;
    const queued = await readJobPointer(store, first.jobId);
    await writeJson(store, jobLatestKey(first.jobId), { ...queued, state: 'completed', published: false });
    expect(await fireSchedule(store, schedule().id)).toEqual({
      kind: 'skipped',
      reason: `its job ${first.jobId} is still publishing its model`,
    });
    await writeJson(store, jobLatestKey(first.jobId), { ...queued, state: 'completed' });
    await writeJson(store, modelLatestKey(spec.name), {
      name: spec.name,
      jobId: first.jobId,
      checkpoint,
      step: 2,
      datasetId: firstRecord.datasetId,
      validationLoss: null,
      updatedAt: new Date().toISOString(),
    });
    writeFileSync(spec.data.source, CSV_HEADER + csvRows(0, 300));

    const second = await fireSchedule(store, schedule().id);
    if (second.kind !== 'started') throw new Error(`expected a started job, got ${second.kind}`);
    expect(second.warmStartFrom).toBe(checkpoint);
    const secondRecord = await readJobRecord(store, second.jobId);
    expect(secondRecord.warmStartFrom).toBe(checkpoint);
    expect(secondRecord.datasetId).not.toBe(firstRecord.datasetId);
    const [oldData, newData] = await Promise.all([loadManifest(store, firstRecord.datasetId), loadManifest(store, secondRecord.datasetId)]);
    if (oldData.kind !== 'csv' || newData.kind !== 'csv') throw new Error('expected CSV datasets');
    expect(newData.rows.total).toBe(300);
    expect(newData.csv.normalization).toEqual(oldData.csv.normalization);
    expect((await readSchedule(store, schedule().id))?.lastJobId).toBe(second.jobId);
  });
});
