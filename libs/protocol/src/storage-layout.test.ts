import { describe, expect, it } from 'vitest';
import { validateDatasetId, validateJobId, validateModelName, validateScheduleId } from './identifiers';
import { InvalidIdentifierError } from './errors/invalid-identifier-error';
import {
  checkpointKeys,
  datasetManifestKey,
  datasetSegmentKey,
  formatStep,
  gradientKey,
  gradientStepPrefix,
  jobLatestKey,
  jobSpecKey,
  metricsChunkKey,
  metricsPrefix,
  modelBestKey,
  modelProductionKey,
  modelVersionKey,
  modelLatestKey,
  parseStoreKey,
  reducedGradientKey,
  scheduleKey,
  weightsKey,
  weightsPrefix,
} from './storage-layout';

describe('storage layout', () => {
  it('builds the keys of the storage layout (docs/architecture.md)', () => {
    expect(datasetManifestKey('text-0123abcd')).toBe('datasets/text-0123abcd/manifest.json');
    expect(datasetSegmentKey('text-0123abcd', 7)).toBe('datasets/text-0123abcd/segment-00007.bin');
    expect(jobSpecKey('moby-20260101-ab12')).toBe('jobs/moby-20260101-ab12/spec.json');
    expect(jobLatestKey('moby')).toBe('jobs/moby/latest.json');
    expect(weightsKey('moby', 42, 7)).toBe('jobs/moby/weights/0000000042-t7.bin');
    expect(checkpointKeys('moby', 50, 7)).toEqual({
      prefix: 'jobs/moby/checkpoints/0000000050-t7/',
      weights: 'jobs/moby/checkpoints/0000000050-t7/weights.bin',
      optimizer: 'jobs/moby/checkpoints/0000000050-t7/optimizer.bin',
      manifest: 'jobs/moby/checkpoints/0000000050-t7/manifest.json',
    });
    // Token 0: the keys of releases before fencing tokens.
    expect(checkpointKeys('moby', 50, 0).prefix).toBe('jobs/moby/checkpoints/0000000050/');
    expect(gradientKey('moby', 3, 42, 7)).toBe('jobs/moby/grads/000003/0000000042/000007.bin');
    expect(gradientKey('moby', 3, 42, 7).startsWith(gradientStepPrefix('moby', 3, 42))).toBe(true);
    // Reduction tree nodes sit with the step's shard gradients: pruned with them.
    expect(reducedGradientKey('moby', 3, 42, 7)).toBe('jobs/moby/grads/000003/0000000042/r000007.bin');
    expect(metricsChunkKey('moby', 100, 3)).toBe('jobs/moby/metrics/0000000100-t3.jsonl');
    expect(metricsChunkKey('moby', 100, 0)).toBe('jobs/moby/metrics/0000000100.jsonl');
    expect(metricsChunkKey('moby', 100, 3).startsWith(metricsPrefix('moby'))).toBe(true);
    expect(modelLatestKey('Moby-Char')).toBe('models/Moby-Char/latest.json');
    expect(modelBestKey('moby-char')).toBe('models/moby-char/best.json');
    expect(modelVersionKey('moby-char', 12)).toBe('models/moby-char/versions/000012/version.json');
    expect(modelProductionKey('moby-char')).toBe('models/moby-char/production.json');
    expect(() => modelVersionKey('moby-char', 0)).toThrow(InvalidIdentifierError);
    expect(scheduleKey('nightly')).toBe('schedules/nightly.json');
  });

  it('pads steps so that listings sort numerically', () => {
    const keys = [0, 9, 10, 99, 100, 12345].map((step) => weightsKey('j', step, 1));
    expect([...keys].sort()).toEqual(keys);
    expect(keys.every((key) => key.startsWith(weightsPrefix('j')))).toBe(true);
    expect(formatStep(9_999_999_999)).toBe('9999999999');
  });

  it.each([
    () => weightsKey('j', -1, 1),
    () => weightsKey('j', 1.5, 1),
    () => weightsKey('j', 10_000_000_000, 1),
    () => weightsKey('j', 1, -1),
    () => gradientKey('j', 1_000_000, 0, 0),
    () => gradientKey('j', 0, 0, 1_000_000),
    () => datasetSegmentKey('text-x', -1),
  ])('refuses numbers that do not fit their field (%#)', (build) => {
    expect(build).toThrow(InvalidIdentifierError);
  });

  it('refuses ids that could escape their folder or collide', () => {
    for (const id of ['', '..', '.hidden', 'a/b', 'a:b', 'UPPER', 'a b', '-lead', 'x'.repeat(101), 'a\\b']) {
      expect(() => jobSpecKey(id), id).toThrow(InvalidIdentifierError);
      expect(() => validateJobId(id), id).toThrow(/invalid job id/);
    }
    expect(() => validateDatasetId('../x')).toThrow(/invalid dataset id/);
    expect(() => validateScheduleId('a/b')).toThrow(/invalid schedule id/);
    expect(() => modelLatestKey('a/../b')).toThrow(/invalid model name/);
    expect(validateModelName('Moby_Char.v2')).toBe('Moby_Char.v2');
    expect(validateJobId('x')).toBe('x');
  });

  it('parses every key it builds back into its parts', () => {
    const cases = [
      [datasetManifestKey('csv-ab'), { kind: 'datasetManifest', datasetId: 'csv-ab' }],
      [datasetSegmentKey('csv-ab', 3), { kind: 'datasetSegment', datasetId: 'csv-ab', segment: 3 }],
      [jobSpecKey('j-1'), { kind: 'jobSpec', jobId: 'j-1' }],
      [jobLatestKey('j-1'), { kind: 'jobLatest', jobId: 'j-1' }],
      [weightsKey('j-1', 5, 2), { kind: 'weights', jobId: 'j-1', step: 5, token: 2 }],
      [checkpointKeys('j-1', 5, 2).weights, { kind: 'checkpoint', jobId: 'j-1', step: 5, token: 2, file: 'weights' }],
      [checkpointKeys('j-1', 5, 2).optimizer, { kind: 'checkpoint', jobId: 'j-1', step: 5, token: 2, file: 'optimizer' }],
      [checkpointKeys('j-1', 5, 0).manifest, { kind: 'checkpoint', jobId: 'j-1', step: 5, token: 0, file: 'manifest' }],
      [gradientKey('j-1', 2, 5, 1), { kind: 'gradient', jobId: 'j-1', generation: 2, step: 5, shard: 1 }],
      [reducedGradientKey('j-1', 2, 5, 1), { kind: 'reducedGradient', jobId: 'j-1', generation: 2, step: 5, node: 1 }],
      [metricsChunkKey('j-1', 200, 4), { kind: 'metricsChunk', jobId: 'j-1', firstStep: 200, token: 4 }],
      [metricsChunkKey('j-1', 200, 0), { kind: 'metricsChunk', jobId: 'j-1', firstStep: 200, token: 0 }],
      [modelLatestKey('Moby'), { kind: 'modelLatest', name: 'Moby' }],
      [modelBestKey('Moby'), { kind: 'modelBest', name: 'Moby' }],
      [modelVersionKey('Moby', 3), { kind: 'modelVersion', name: 'Moby', version: 3 }],
      [modelProductionKey('Moby'), { kind: 'modelProduction', name: 'Moby' }],
      [scheduleKey('s1'), { kind: 'schedule', scheduleId: 's1' }],
    ] as const;
    for (const [key, parts] of cases) expect(parseStoreKey(key), key).toEqual(parts);
  });

  it('parses keys outside the layout as null', () => {
    for (const key of [
      'jobs/j/other.json',
      'jobs/j/weights/42.bin',
      'jobs/j/checkpoints/0000000001/weights.json',
      'models/m/x.json',
      'README',
    ]) {
      expect(parseStoreKey(key), key).toBeNull();
    }
  });
});
