import { describe, expect, it } from 'vitest';
import { formatLogLine, GenerationMemory, logFieldsOf, logLevelOf, parseLogFormat } from './log-lines';

const now = new Date('2026-01-02T03:04:05.000Z');
const json = (sentence: string, extra: Partial<Parameters<typeof formatLogLine>[1]> = {}): Record<string, unknown> => {
  const line = formatLogLine(sentence, { format: 'json', redact: (text) => text, now, ...extra });
  expect(line.endsWith('\n')).toBe(true);
  expect(line.trim().split('\n')).toHaveLength(1);
  return JSON.parse(line) as Record<string, unknown>;
};

describe('log lines', () => {
  it('writes text lines as they were: prefix and sentence', () => {
    expect(formatLogLine('serving jobs of s3://b/p', { format: 'text', redact: (t) => t, textPrefix: '[coordinator] ' })).toBe(
      '[coordinator] serving jobs of s3://b/p\n',
    );
  });

  it('writes one JSON object with time, level, source and the same sentence', () => {
    expect(json('job tiny-20260101-ab12: generation 3, from step 4 of 8', { source: 'coordinator' })).toEqual({
      time: '2026-01-02T03:04:05.000Z',
      level: 'info',
      source: 'coordinator',
      message: 'job tiny-20260101-ab12: generation 3, from step 4 of 8',
      jobId: 'tiny-20260101-ab12',
      generation: 3,
      step: 4,
    });
  });

  it('reads job, generation, step and shard from a shard task id', () => {
    const record = json('shard j-tiny.a_b-7-g2-s15-t3: its worker died or stopped answering; BullMQ gave it back to the queue (stalled)');
    expect(record).toMatchObject({ level: 'warn', jobId: 'tiny.a_b-7', generation: 2, step: 15, shard: 3, shardKind: 'train' });
    expect(json('shard j-x-g1-s0-v12: straggling; an idle worker computes it too (straggler duplicate)')).toMatchObject({
      level: 'warn',
      jobId: 'x',
      shard: 12,
      shardKind: 'validate',
    });
  });

  it('tells errors from warnings: a failed attempt is retried, a failure after the attempts is final', () => {
    expect(logLevelOf('shard j-x-g1-s2-t0 failed (attempt 1): store timeout')).toBe('warn');
    expect(logLevelOf('shard j-x-g1-s2-t0: an attempt failed; it is retried')).toBe('warn');
    expect(logLevelOf('job x step 2 shard 0 failed after 3 attempts: boom')).toBe('error');
    expect(logLevelOf('shard j-x-g1-s2-t0: failed for good')).toBe('error');
    expect(logLevelOf('worker error: connection reset')).toBe('error');
    expect(logLevelOf('job x: waiting since 2026-01-01T00:00:00Z: no live worker serves profile wasm-t1')).toBe('warn');
    expect(logLevelOf('job x: completed at step 8')).toBe('info');
    expect(logFieldsOf('job x step 2 shard 0 failed after 3 attempts: boom')).toEqual({ jobId: 'x', step: 2, shard: 0 });
  });

  it('lets callers add and override fields (the worker id, the run step of a progress line)', () => {
    expect(json('epoch 2 step 3/10 (run 13/40) 250 windows/s', { fields: { jobId: 'j1', step: 13, workerId: 'h-1-abc' } })).toMatchObject({
      jobId: 'j1',
      step: 13,
      workerId: 'h-1-abc',
    });
  });

  it("adds a job's current generation to its lines that do not say it", () => {
    const generations = new GenerationMemory();
    expect(json('job a: completed at step 3', { generations })).not.toHaveProperty('generation');
    json('job a: generation 2, from step 0 of 8', { generations });
    json('job b: generation 5, from step 0 of 8', { generations });
    expect(json('job a: completed at step 8', { generations })).toMatchObject({ jobId: 'a', generation: 2, step: 8 });
    expect(json('job b: cancelled at step 1', { generations })).toMatchObject({ jobId: 'b', generation: 5 });
    json('job a: generation 3, from step 6 of 8', { generations });
    expect(json('job a: stopped at step 7; checkpoint (none)', { generations })).toMatchObject({ generation: 3 });
  });

  it('redacts before anything is read or written', () => {
    const line = formatLogLine('cannot use Redis at redis://:hunter22@db:6379', {
      format: 'json',
      redact: (text) => text.replace('hunter22', '***'),
    });
    expect(line).not.toContain('hunter22');
    expect(JSON.parse(line)).toMatchObject({ level: 'error', message: 'cannot use Redis at redis://:***@db:6379' });
  });

  it('accepts text and json only, naming the setting otherwise', () => {
    expect(parseLogFormat('json', 'LSTM_LOG_FORMAT')).toBe('json');
    expect(() => parseLogFormat('xml', 'LSTM_LOG_FORMAT')).toThrow("LSTM_LOG_FORMAT must be one of text, json, got 'xml'");
  });
});
