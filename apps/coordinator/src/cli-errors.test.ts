// What the command prints when it is used wrongly: one line naming the problem, never a
// stack trace, never a password (no servers needed: these fail before reaching any).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../../..');
const LSTM = join(ROOT, 'apps/coordinator/bin/lstm.js');
const WORKER = join(ROOT, 'apps/worker/bin/lstm-worker.js');
const dir = mkdtempSync(join(tmpdir(), 'cli-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(bin: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): { code: number; output: string } {
  const result = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status ?? -1, output: `${result.stdout}${result.stderr}` };
}

describe('lstm and lstm-worker on bad input', () => {
  it.each([
    ['lstm', LSTM, ['status']],
    ['lstm-worker', WORKER, ['--backend', 'wasm']],
  ])('%s: a bad number in an environment variable is one line naming it', (_, bin, args) => {
    const { code, output } = run(bin, args, { LSTM_LEASE_TTL_MS: 'abc' });
    expect(code).not.toBe(0);
    expect(output.trim().split('\n')).toEqual([expect.stringContaining("LSTM_LEASE_TTL_MS must be a positive integer, got 'abc'")]);
  });

  it.each([
    'redis://admin:hun#ter22@127.0.0.1:1',
    'redis://admin:hun/ter22@127.0.0.1:1/0',
    'redis://admin:hunter22@127.0.0.1:99999',
    'redis://admin:hunter22@127.0.0.1:1',
  ])('never prints the password of %s', (url) => {
    for (const [bin, args] of [
      [LSTM, ['cancel', 'some-job', '--redis', url]],
      [LSTM, ['coordinator', '--redis', url]],
      [WORKER, ['--redis', url, '--backend', 'wasm']],
    ] as const) {
      const { code, output } = run(bin, args);
      expect(code).not.toBe(0);
      expect(output).not.toMatch(/hun.?ter22/);
      expect(output).toContain('Redis');
    }
  });

  it('lstm dashboard refuses a non-loopback bind without a token, and a weak token, in one line before reaching Redis', () => {
    const refused = run(LSTM, ['dashboard', '--host', '0.0.0.0', '--redis', 'redis://127.0.0.1:1']);
    expect(refused.code).toBe(1);
    expect(refused.output.trim()).toBe(
      'lstm: binding the dashboard to 0.0.0.0 (not a loopback address) needs a token: --token or LSTM_DASHBOARD_TOKEN',
    );
    const weak = run(LSTM, ['dashboard', '--host', '0.0.0.0', '--redis', 'redis://127.0.0.1:1'], { LSTM_DASHBOARD_TOKEN: 'short' });
    expect(weak.code).toBe(1);
    expect(weak.output.trim().split('\n')).toEqual([expect.stringContaining('the dashboard token must have at least 16 characters')]);
  });

  it('--log-format json writes errors as one JSON object', () => {
    const { code, output } = run(LSTM, ['coordinator', '--log-format', 'json', '--redis', 'redis://admin:hunter22@127.0.0.1:1']);
    expect(code).toBe(1);
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'error', source: 'lstm', message: expect.stringContaining('Redis') });
    expect(output).not.toContain('hunter22');
    expect(run(LSTM, ['coordinator', '--log-format', 'xml']).code).toBe(2);
  });
});
