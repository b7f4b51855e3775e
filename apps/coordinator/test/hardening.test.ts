// Jobs that would hang without a word, state that a failed run would leave behind, and the
// private Redis of an embedded run: each mechanism shown with real processes.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readJobRecord, writeJobRecord } from '@lstm-runner/job-store';
import { whyRedisUnreachable } from '@lstm-runner/runner';
import { TestCluster } from '../../../test-support/cluster';
import { injectedServers, tinySpec } from './fixtures';

describe('hardening: no job waits forever, nothing is left behind', () => {
  // Each test has its own cluster (queue prefix, store prefix): the workers one test starts
  // are never seen by the next.
  let cluster: TestCluster;
  let csv: string;

  beforeEach(() => {
    cluster = new TestCluster(injectedServers(), 'hardening');
    csv = cluster.sensorSubset(1500);
  });

  afterEach(async () => {
    await cluster.stop();
  });

  it('says when no live worker serves a job profile, naming the served ones, and goes on when one comes', async () => {
    const coordinator = cluster.lstm(['coordinator'], { LSTM_WORKER_NOTICE_MS: '1000' });
    const wasm = cluster.worker();
    await cluster.waitForWorkers(1);
    const spec = cluster.writeSpec('cpu.yaml', tinySpec(csv, { maxSteps: 3 }).replace('backend: wasm', 'backend: cpu'));
    const follow = cluster.lstm(['train', spec, '--job-id', 'unserved', '--follow']);
    await cluster.waitFor('unserved', (s) => s.state === 'running');
    const status = await cluster.until('the job to wait for a worker', async () => {
      const now = await cluster.status('unserved');
      return now.waitingForWorkers === null ? undefined : now;
    });
    expect(status.waitingForWorkers?.profile).toMatch(/^cpu-t1-n[0-9a-f]{8}$/);
    expect(status.waitingForWorkers?.servedProfiles).toEqual([expect.stringMatching(/^wasm-t1-n[0-9a-f]{8}$/)]);
    expect(status.notice).toMatch(/no live worker serves profile cpu-t1-n.* \(live workers serve wasm-t1-n/);
    const text = await cluster.run(['status', 'unserved']);
    expect(text.stdout).toContain('no live worker serves profile cpu-t1');
    expect(coordinator.stderr()).toMatch(/job unserved: waiting since .*: no live worker serves profile cpu-t1/);
    const cpu = cluster.worker({}, ['--backend', 'cpu']);
    expect(await follow.exited, follow.stderr()).toBe(0);
    expect(follow.stderr()).toContain('no live worker serves profile cpu-t1');
    expect(coordinator.stderr()).toContain('job unserved: a worker of cpu-t1');
    for (const p of [wasm, cpu, coordinator]) p.kill('SIGTERM');
  });

  it('resolves auto against the profiles live workers serve, not against the submitting machine', async () => {
    // This machine would pick wasm for auto; the only live worker serves cpu.
    const coordinator = cluster.lstm(['coordinator']);
    const cpu = cluster.worker({}, ['--backend', 'cpu']);
    await cluster.waitForWorkers(1);
    const spec = cluster.writeSpec('auto.yaml', tinySpec(csv, { maxSteps: 2 }).replace('backend: wasm', 'backend: auto'));
    const run = await cluster.run(['train', spec, '--job-id', 'auto-served', '--follow']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/profile cpu-t1-n[0-9a-f]{8} \(served by live workers\)/);
    expect((await readJobRecord(cluster.store, 'auto-served')).profile.backend).toBe('cpu');
    cpu.kill('SIGTERM');
    coordinator.kill('SIGTERM');
  });

  it('fails a job whose shard killed two workers, saying so, instead of killing every worker', async () => {
    const coordinator = cluster.lstm(['coordinator'], { LSTM_STRAGGLER_MIN_MS: '600000' });
    const crash = { LSTM_INJECT_WORKER_CRASH: '1:0' };
    const workers = [cluster.worker(crash), cluster.worker(crash), cluster.worker(crash)];
    const spec = cluster.writeSpec('crash.yaml', tinySpec(csv, { maxSteps: 4 }));
    const run = await cluster.run(['train', spec, '--job-id', 'crashing', '--follow']);
    expect(run.code).toBe(1);
    const status = await cluster.status('crashing');
    expect(status.state).toBe('failed');
    expect(status.message).toMatch(/step 1 shard 0 failed .*2 workers died or stopped answering while computing it/);
    // Two workers died of SIGSEGV; the third is alive.
    const exits = await Promise.all(
      workers.map((worker) => Promise.race([worker.exited, new Promise<null>((r) => setTimeout(() => r(null), 500))])),
    );
    expect(exits.filter((code) => code !== null)).toHaveLength(2);
    for (const worker of workers) worker.kill('SIGTERM');
    coordinator.kill('SIGTERM');
  });

  it('writes no job when an embedded run cannot reach its Redis', async () => {
    const spec = cluster.writeSpec('nothing.yaml', tinySpec(csv));
    const run = await cluster.run(['train', spec, '--local-workers', '1', '--job-id', 'nothing-left', '--redis', 'redis://127.0.0.1:1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cannot use Redis at redis://127.0.0.1:1');
    expect(await cluster.store.list('jobs/nothing-left/')).toEqual([]);
  });

  it('refuses to resume on other numerics unless told, then goes on with them', async () => {
    const spec = cluster.writeSpec('build.yaml', tinySpec(csv, { maxSteps: 4 }));
    const first = await cluster.run(['train', spec, '--local-workers', '1', '--job-id', 'rebuilt', '--stop-after-steps', '2']);
    expect(first.code, first.stderr).toBe(0);
    // As if the job had been computed by another release.
    const record = await readJobRecord(cluster.store, 'rebuilt');
    await writeJobRecord(cluster.store, { ...record, profile: { ...record.profile, build: 'n00000000' } });
    const refused = await cluster.run(['resume', 'rebuilt', '--local-workers', '1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/computed with numerics build n00000000 .*--allow-numerics-change/);
    expect((await cluster.status('rebuilt')).step).toBe(2);
    const allowed = await cluster.run(['resume', 'rebuilt', '--local-workers', '1', '--allow-numerics-change']);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(await cluster.status('rebuilt')).toMatchObject({ state: 'completed', step: 4 });
    expect((await readJobRecord(cluster.store, 'rebuilt')).profile.build).toBe(record.profile.build);
  });

  it("ties a private redis-server to its lstm process's life, with a password nobody else sees", async () => {
    const holder = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'helpers/private-redis-holder.ts'), 'redis://127.0.0.1:1', join(cluster.dir, 'redis')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const url = await new Promise<string>((resolve) => holder.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())));
    const password = /^redis:\/\/:([^@]+)@/.exec(url)?.[1] ?? '';
    expect(password.length).toBeGreaterThanOrEqual(20);
    expect(await whyRedisUnreachable(url)).toBeNull();
    expect(await whyRedisUnreachable(url.replace(`:${password}@`, ''))).toMatch(/NOAUTH|auth/i);
    const processes = spawnSync('ps', ['-eo', 'args'], { encoding: 'utf8' }).stdout;
    expect(processes).toContain('redis-server');
    expect(processes).not.toContain(password);
    holder.kill('SIGKILL');
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gone = (await whyRedisUnreachable(url, 500)) !== null;
    }
    expect(gone).toBe(true);
  });
});
