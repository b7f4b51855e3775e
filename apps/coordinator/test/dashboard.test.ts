// lstm dashboard against a real cluster (redis-server, s3rver, `lstm coordinator`, a worker):
// a headless Chromium sees a job appear and its loss chart gain points as steps complete;
// /metrics of both services parse as Prometheus text and count what the run did; logs in
// JSON are one object a line; the dashboard refuses requests without its token or with a
// foreign Host header. (Its refusal to bind 0.0.0.0 without a token: src/cli-errors.test.ts.)
import { mkdirSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DashboardServer, RedisClusterView } from '@lstm-runner/dashboard';
import { type RunningProcess, type TestCluster, TestCluster as Cluster } from '../../../test-support/cluster';
import { CHROMIUM_ARGS, findChromium } from '../../../test-support/chromium';
import { requirementMet } from '../../../test-support/requirements';
import { injectedServers, tinySpec } from './fixtures';

const chromium = findChromium();
const browserTests = requirementMet(
  'browser',
  chromium === null ? { available: false, reason: 'no chromium found (Debian: apt-get install -y chromium)' } : { available: true },
);
const OUTPUT_DIR = resolve(import.meta.dirname, '../../../test-output/dashboard');
const TOKEN = 'integration-test-token-0123456789';
const STEPS = 12;

/** Resolves with the first match of `pattern` in the process's stderr. */
async function waitForLine(process: RunningProcess, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(process.stderr());
    if (match !== null) return match;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in ${timeoutMs} ms; stderr:\n${process.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A GET with any Host header (fetch does not let one set it). */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolveGet, reject) => {
    const sent = request(url, { headers }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolveGet({ status: response.statusCode ?? 0, body }));
    });
    sent.on('error', reject);
    sent.end();
  });
}

function family(families: readonly PrometheusFamily[], name: string): PrometheusFamily {
  const found = families.find((candidate) => candidate.name === name);
  if (found === undefined) throw new Error(`no metric ${name}; there are ${families.map((f) => f.name).join(', ')}`);
  return found;
}

const sample = (families: readonly PrometheusFamily[], name: string, labels: Record<string, string>): number =>
  Number(family(families, name).metrics.find((metric) => Object.entries(labels).every(([k, v]) => metric.labels?.[k] === v))?.value ?? NaN);

describe('lstm dashboard and /metrics on a running cluster', () => {
  let cluster: TestCluster;
  let coordinator: RunningProcess;
  let worker: RunningProcess;
  let dashboard: RunningProcess;
  let dashboardUrl: string;
  let guarded: DashboardServer;
  let guardedUrl: string;
  let closeGuarded = async (): Promise<void> => undefined;
  let coordinatorPort: number;
  let workerPort: number;
  let spec: string;

  beforeAll(async () => {
    cluster = new Cluster(injectedServers(), 'dashboard');
    // 12 steps of 4 shards, validated at steps 8 and 12: short, and long enough for the page to see it move.
    spec = cluster.writeSpec(
      'tiny.yaml',
      tinySpec(cluster.sensorSubset(1500), { maxSteps: STEPS }).replace('validateEvery: 4', 'validateEvery: 8'),
    );
    coordinator = cluster.lstm(['coordinator', '--http-port', '0', '--log-format', 'json']);
    // Shards take 80 ms longer: the run lasts some seconds, whatever the machine's speed.
    worker = cluster.worker({ LSTM_INJECT_SHARD_DELAY_MS: '80', LSTM_LOG_FORMAT: 'json' }, ['--http-port', '0']);
    dashboard = cluster.lstm(['dashboard', '--port', '0']);
    // One with a token, in this process: the same server over real HTTP, without another start-up.
    const clusterView = new RedisClusterView({ store: cluster.store, redisUrl: cluster.options.redisUrl, prefix: cluster.prefix });
    guarded = new DashboardServer({ store: cluster.store, cluster: clusterView, port: 0, token: TOKEN });
    guardedUrl = await guarded.start();
    closeGuarded = async () => {
      await guarded.close();
      await clusterView.close();
    };
    dashboardUrl = (await waitForLine(dashboard, /on (http:\/\/127\.0\.0\.1:\d+\/)/))[1]!;
    coordinatorPort = Number((await waitForLine(coordinator, /on port (\d+)/))[1]);
    workerPort = Number((await waitForLine(worker, /on port (\d+)/))[1]);
    await cluster.waitForWorkers(1);
  });

  afterAll(async () => {
    await closeGuarded();
    await cluster.stop();
  });

  it.skipIf(!browserTests)('shows the job appear and its loss chart gain points as steps complete, in headless Chromium', async () => {
    const { chromium: playwright } = await import('playwright-core');
    const browser = await playwright.launch({ executablePath: chromium!, headless: true, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(dashboardUrl);
      await page.waitForSelector('#no-jobs:not([hidden])');
      const submitted = await cluster.run(['train', spec, '--job-id', 'dash-e2e']);
      expect(submitted.code, submitted.stderr).toBe(0);
      await page.waitForSelector('tr[data-job-id="dash-e2e"]', { timeout: 30_000 });
      await page.waitForSelector('tr[data-worker-id].live');
      // The page's chart says how many points it draws (data-points) and up to which step (data-last-step).
      const chart = async (attribute: string, done: (value: string) => boolean): Promise<string> => {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const value = (await page.getAttribute('#chart', attribute)) ?? '';
          if (done(value)) return value;
          if (Date.now() > deadline) throw new Error(`the chart's ${attribute} stayed '${value}'`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      const first = Number(await chart('data-points', (value) => Number(value) >= 1));
      expect(Number(await chart('data-points', (value) => Number(value) > first))).toBeGreaterThan(first);
      await page.waitForSelector('tr[data-job-id="dash-e2e"][data-state="completed"]', { timeout: 60_000 });
      await chart('data-last-step', (value) => value === String(STEPS));
      mkdirSync(OUTPUT_DIR, { recursive: true });
      await page.screenshot({ path: join(OUTPUT_DIR, 'dashboard.png'), fullPage: true });
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('serves /metrics of both services as Prometheus text that counts the run', async () => {
    if (!browserTests) {
      const submitted = await cluster.run(['train', spec, '--job-id', 'dash-e2e']);
      expect(submitted.code, submitted.stderr).toBe(0);
    }
    await cluster.waitFor('dash-e2e', (status) => status.state === 'completed', 60_000);
    const scrape = async (port: number): Promise<PrometheusFamily[]> => {
      const response = await get(`http://127.0.0.1:${port}/metrics`);
      expect(response.status).toBe(200);
      return parsePrometheusTextFormat(response.body);
    };
    const ofCoordinator = await scrape(coordinatorPort);
    const profile = family(ofCoordinator, 'lstm_steps_completed_total').metrics[0]!.labels!['profile']!;
    expect(sample(ofCoordinator, 'lstm_steps_completed_total', { profile })).toBe(STEPS);
    expect(family(ofCoordinator, 'lstm_step_duration_seconds').type).toBe('HISTOGRAM');
    expect(family(ofCoordinator, 'lstm_shard_compute_seconds').metrics).not.toHaveLength(0);
    expect(sample(ofCoordinator, 'lstm_store_bytes_total', { kind: 'gradient', direction: 'read' })).toBeGreaterThan(0);
    expect(sample(ofCoordinator, 'lstm_store_bytes_total', { kind: 'weights', direction: 'written' })).toBeGreaterThan(0);
    expect(sample(ofCoordinator, 'lstm_queue_depth', { profile, state: 'waiting' })).toBe(0);
    expect(sample(ofCoordinator, 'lstm_jobs_finished_total', { state: 'completed' })).toBe(1);
    for (const name of ['lstm_shard_events_total', 'lstm_job_train_loss', 'lstm_job_validation_loss', 'lstm_jobs_running'])
      family(ofCoordinator, name);
    // Per-job series end with the job.
    expect(family(ofCoordinator, 'lstm_job_train_loss').metrics).toEqual([]);
    const ofWorker = await scrape(workerPort);
    expect(sample(ofWorker, 'lstm_worker_shards_total', { kind: 'train', outcome: 'done' })).toBeGreaterThanOrEqual(STEPS * 4);
    expect(sample(ofWorker, 'lstm_store_bytes_total', { kind: 'gradient', direction: 'written' })).toBeGreaterThan(0);
    expect(sample(ofWorker, 'lstm_store_bytes_total', { kind: 'weights', direction: 'read' })).toBeGreaterThan(0);
    expect(sample(ofWorker, 'lstm_queue_depth', { profile, state: 'waiting' })).toBe(0);
  });

  it('logs one JSON object a line with the job, step, shard and worker they concern', () => {
    const records = (process: RunningProcess): Record<string, unknown>[] =>
      process
        .stderr()
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    const ofCoordinator = records(coordinator);
    expect(ofCoordinator.every((record) => typeof record['time'] === 'string' && typeof record['level'] === 'string')).toBe(true);
    expect(ofCoordinator).toContainEqual(
      expect.objectContaining({
        source: 'coordinator',
        message: `job dash-e2e: completed at step ${STEPS}`,
        jobId: 'dash-e2e',
        step: STEPS,
      }),
    );
    expect(ofCoordinator).toContainEqual(
      expect.objectContaining({ jobId: 'dash-e2e', generation: 1, message: expect.stringMatching(/^job dash-e2e: generation 1/) }),
    );
    expect(records(worker)).toContainEqual(
      expect.objectContaining({ source: 'worker', workerId: expect.stringMatching(/-\d+-[0-9a-f]{6}$/) }),
    );
  });

  it('refuses a foreign Host header (DNS rebinding), and with a token every request without it', async () => {
    expect((await get(`${dashboardUrl}api/jobs`, { host: 'rebound.attacker.example' })).status).toBe(403);
    expect((await get(`${dashboardUrl}api/jobs`)).status).toBe(200);
    const url = guardedUrl;
    for (const path of ['', 'api/jobs', 'api/jobs/dash-e2e', 'api/workers', 'static/dashboard.js']) {
      expect((await get(`${url}${path}`)).status, path).toBe(401);
    }
    expect((await get(`${url}api/jobs`, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
  });
});
