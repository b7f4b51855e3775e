import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseShardDelayOrder, ShardDelayFile } from './shard-delay-file';

describe('ShardDelayFile', () => {
  let dir: string;
  let path: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lstm-shard-delay-'));
    path = join(dir, 'delay.json');
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('delays nothing without a file', async () => {
    const delays = new ShardDelayFile(path);
    expect(await delays.nextDelayMs()).toBe(0);
    writeFileSync(path, '\n');
    expect(await delays.nextDelayMs()).toBe(0);
  });

  it('delays the next `shards` shards once per order id', async () => {
    const delays = new ShardDelayFile(path);
    writeFileSync(path, JSON.stringify({ id: 'a', delayMs: 300, shards: 2 }));
    expect([await delays.nextDelayMs(), await delays.nextDelayMs(), await delays.nextDelayMs()]).toEqual([300, 300, 0]);
    // The same order read again orders nothing new; a new id does.
    expect(await delays.nextDelayMs()).toBe(0);
    writeFileSync(path, JSON.stringify({ id: 'b', delayMs: 50, shards: 1 }));
    expect([await delays.nextDelayMs(), await delays.nextDelayMs()]).toEqual([50, 0]);
  });

  it('says once that an order is unusable, and delays nothing', async () => {
    const lines: string[] = [];
    const delays = new ShardDelayFile(path, (line) => lines.push(line));
    writeFileSync(path, JSON.stringify({ id: 'a', delayMs: -1, shards: 1 }));
    expect(await delays.nextDelayMs()).toBe(0);
    expect(await delays.nextDelayMs()).toBe(0);
    expect(lines).toEqual([expect.stringMatching(/^lstm-shard-delay: ignored .*delay\.json: delayMs /)]);
  });

  it('names the field at fault', () => {
    expect(parseShardDelayOrder('{"id":"a","delayMs":1}')).toMatch(/^shards /);
    expect(parseShardDelayOrder('{"id":"a","delayMs":1,"shards":1,"extra":1}')).toMatch(/^extra is not a field/);
    expect(parseShardDelayOrder('{')).toMatch(/^not valid JSON/);
    expect(parseShardDelayOrder('{"id":"a","delayMs":1,"shards":1}')).toEqual({ id: 'a', delayMs: 1, shards: 1 });
  });
});
