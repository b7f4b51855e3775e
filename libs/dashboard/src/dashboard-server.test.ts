// The dashboard's server without a network (fastify inject) over a local-directory store with
// 200 jobs and one of 100,000 steps, and a fake cluster: what the API answers, that it keeps the
// page light (downsampled series), and who it lets in.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateJobPointer, writeJobRecord, writeMetricsChunk, type JobState, type MetricRecord } from '@lstm-runner/job-store';
import { checkpointKeys, parseJobSpec } from '@lstm-runner/protocol';
import type { QueueDepth, WorkerAnnouncement } from '@lstm-runner/runner';
import { openStore, type ObjectStore } from '@lstm-runner/storage';
import type { ClusterView } from './cluster-view';
import { DashboardServer } from './dashboard-server';
import type { JobDetail, JobSummary } from './job-views';
import { TOKEN_COOKIE } from './request-guard';

const PROFILE = { backend: 'wasm', threads: 1, build: 'n0000beef' };
const SPEC = parseJobSpec(
  `name: fake
data: { source: fake.csv, format: csv, csv: { features: [a], targets: [a] }, window: { lookBack: 4 } }
model: { layers: [4] }
training: { epochs: 2 }
`,
  'fake.yaml',
);

function metric(step: number, at: number): MetricRecord {
  return {
    step,
    epoch: 0,
    trainLoss: 1 / step + 0.001 * Math.sin(step),
    validationLoss: step % 100 === 0 ? 2 / step : null,
    lastValidationLoss: null,
    windowsPerSecond: 500,
    stepMs: 40,
    shardComputeMs: 30,
    wallTimeMs: at + step * 50,
    time: new Date(at + step * 50).toISOString(),
  };
}

async function writeJob(store: ObjectStore, id: string, state: JobState, steps: number, totalSteps = steps): Promise<void> {
  const now = new Date().toISOString();
  await writeJobRecord(store, {
    version: 1,
    id,
    name: 'fake',
    spec: SPEC,
    datasetId: 'fake-dataset',
    model: { input: { kind: 'features', size: 1 }, layers: [4], head: { kind: 'regression', outputs: 1 } },
    profile: PROFILE,
    totalSteps,
    createdAt: now,
  });
  const checkpoint = steps === 0 ? null : { step: steps, prefix: checkpointKeys(id, steps, 1).prefix };
  if (checkpoint !== null) await store.put(checkpointKeys(id, steps, 1).manifest, '{}');
  await updateJobPointer(store, id, 1, () => ({
    version: 1,
    id,
    name: 'fake',
    state,
    generation: 1,
    fencingToken: 1,
    checkpoint,
    totalSteps,
    updatedAt: now,
  }));
  const started = Date.now() - steps * 50;
  for (let first = 0; first < steps; first += 1000) {
    const records: MetricRecord[] = [];
    for (let step = first + 1; step <= Math.min(steps, first + 1000); step++) records.push(metric(step, started));
    await writeMetricsChunk(store, id, first, 1, records);
  }
}

class FakeCluster implements ClusterView {
  workers: WorkerAnnouncement[] = [];
  readonly actions: string[] = [];
  liveWorkers = async (): Promise<WorkerAnnouncement[]> => this.workers;
  queueDepths = async (profiles: readonly string[]): Promise<QueueDepth[]> =>
    [...new Set(profiles)].map((profile) => ({ profile, queue: `lstm-gradients-${profile}`, waiting: 3, active: 1, delayed: 0 }));
  cancel = async (jobId: string): Promise<string> => {
    this.actions.push(`cancel ${jobId}`);
    return `job ${jobId}: cancelled`;
  };
  resume = async (jobId: string): Promise<string> => {
    this.actions.push(`resume ${jobId}`);
    return `job ${jobId}: resuming`;
  };
  close = async (): Promise<void> => undefined;
}

const worker = (id: string, profile: string): WorkerAnnouncement => ({
  id,
  host: 'box',
  pid: 1,
  profile,
  backend: 'tfjs wasm',
  concurrency: 1,
  startedAt: new Date().toISOString(),
  seenAt: new Date().toISOString(),
  shardsDone: 7,
  current: [{ taskId: 'j-running-0-g1-s3-t1', since: new Date().toISOString() }],
});

const TOKEN = 'dashboard-test-token-0123456789';
const HOST = { host: '127.0.0.1:8090' };

describe('the dashboard server', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-test-'));
  const store = openStore(dir);
  const cluster = new FakeCluster();
  let open: DashboardServer;
  let guarded: DashboardServer;

  beforeAll(async () => {
    for (let i = 0; i < 200; i++) await writeJob(store, `job-${String(i).padStart(3, '0')}`, i % 3 === 0 ? 'failed' : 'completed', 20);
    await writeJob(store, 'running-0', 'running', 30, 60);
    await writeJob(store, 'long-run', 'completed', 100_000);
    open = new DashboardServer({ store, cluster, port: 0 });
    guarded = new DashboardServer({ store, cluster, port: 0, host: '0.0.0.0', token: TOKEN });
  });

  afterAll(async () => {
    await open.close();
    await guarded.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists all 202 jobs with the fields of lstm status --json and what the page shows', async () => {
    const response = await open.inject({ url: '/api/jobs', headers: HOST });
    expect(response.statusCode).toBe(200);
    const jobs = response.json<JobSummary[]>();
    expect(jobs).toHaveLength(202);
    const running = jobs.find((job) => job.id === 'running-0')!;
    expect(Object.keys(running)).toEqual(
      expect.arrayContaining(['id', 'name', 'state', 'step', 'totalSteps', 'epoch', 'trainLoss', 'validationLoss', 'generation']),
    );
    expect(running).toMatchObject({ state: 'running', step: 30, totalSteps: 60, progress: 0.5, epochs: 2, windowsPerSecond: 500 });
    // 30 steps to go at the records' 50 ms a step.
    expect(running.etaSeconds).toBe(2);
    expect(running).toMatchObject({ profile: 'wasm-t1-n0000beef', liveWorkers: 0, noLiveWorker: true });
  });

  it('says a job can move again once a worker of its profile is live, and lists workers seen recently', async () => {
    cluster.workers = [worker('w-1', 'wasm-t1-n0000beef'), worker('w-2', 'cpu-t1-n0000beef')];
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const jobs = (await open.inject({ url: '/api/jobs', headers: HOST })).json<JobSummary[]>();
    expect(jobs.find((job) => job.id === 'running-0')).toMatchObject({ liveWorkers: 1, noLiveWorker: false });
    cluster.workers = [worker('w-1', 'wasm-t1-n0000beef')];
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const workers = (await open.inject({ url: '/api/workers', headers: HOST })).json<{ id: string; live: boolean }[]>();
    expect(workers.map(({ id, live }) => ({ id, live }))).toEqual([
      { id: 'w-1', live: true },
      { id: 'w-2', live: false },
    ]);
    const queues = (await open.inject({ url: '/api/queues', headers: HOST })).json<QueueDepth[]>();
    expect(queues).toEqual([
      { profile: 'wasm-t1-n0000beef', queue: 'lstm-gradients-wasm-t1-n0000beef', waiting: 3, active: 1, delayed: 0 },
    ]);
  });

  it('cuts a job of 100,000 steps to a bounded number of points, or gives every one when asked', async () => {
    const detail = (await open.inject({ url: '/api/jobs/long-run', headers: HOST })).json<JobDetail>();
    expect(detail.metrics.records).toBe(100_000);
    expect(detail.metrics.train.length).toBeLessThanOrEqual(1000);
    expect(detail.metrics.train[0]![0]).toBe(1);
    expect(detail.metrics.train.at(-1)![0]).toBe(100_000);
    expect(detail.metrics.validation.length).toBe(1000);
    expect(detail.checkpoints).toEqual([{ step: 100_000, prefix: checkpointKeys('long-run', 100_000, 1).prefix, latest: true }]);
    const few = (await open.inject({ url: '/api/jobs/long-run?points=50', headers: HOST })).json<JobDetail>();
    expect(few.metrics.train.length).toBeLessThanOrEqual(50);
    const all = (await open.inject({ url: '/api/jobs/long-run?points=all', headers: HOST })).json<JobDetail>();
    expect(all.metrics.train).toHaveLength(100_000);
    expect((await open.inject({ url: '/api/jobs/long-run?points=2', headers: HOST })).statusCode).toBe(400);
  });

  it('answers 404 for an unknown job and 400 for a malformed id', async () => {
    expect((await open.inject({ url: '/api/jobs/no-such-job', headers: HOST })).statusCode).toBe(404);
    expect((await open.inject({ url: '/api/jobs/..%2Fsecrets', headers: HOST })).statusCode).toBe(400);
  });

  it('cancels and resumes through the cluster, for JSON POSTs of its own page only', async () => {
    const post = (url: string, headers: Record<string, string>) =>
      open.inject({ method: 'POST', url, headers: { ...HOST, ...headers }, payload: '{}' });
    const json = { 'content-type': 'application/json' };
    expect((await post('/api/jobs/running-0/cancel', json)).json()).toEqual({ message: 'job running-0: cancelled' });
    expect((await post('/api/jobs/job-000/resume', { ...json, origin: 'http://127.0.0.1:8090' })).statusCode).toBe(200);
    expect((await post('/api/jobs/job-001/cancel', { 'content-type': 'text/plain' })).statusCode).toBe(415);
    expect((await post('/api/jobs/job-001/cancel', { ...json, origin: 'http://attacker.example' })).statusCode).toBe(403);
    expect((await post('/api/jobs/nope/cancel', json)).statusCode).toBe(404);
    expect(cluster.actions).toEqual(['cancel running-0', 'resume job-000']);
  });

  it('serves the page and its scripts (uPlot from node_modules) with a strict content policy', async () => {
    const page = await open.inject({ url: '/', headers: HOST });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body).toContain('/static/uPlot.iife.min.js');
    const uplot = await open.inject({ url: '/static/uPlot.iife.min.js', headers: HOST });
    expect(uplot.statusCode).toBe(200);
    expect(uplot.body).toContain('uPlot');
    expect((await open.inject({ url: '/static/..%2Fdashboard-server.ts', headers: HOST })).statusCode).toBe(404);
    expect((await open.inject({ url: '/', headers: { host: 'attacker.example:8090' } })).statusCode).toBe(403);
  });

  it('with a token, refuses the page, its files and the API without it (401), and lets a ?token= link in by cookie', async () => {
    for (const url of ['/', '/static/dashboard.js', '/api/jobs', '/api/jobs/job-000', '/api/workers', '/api/queues']) {
      const response = await guarded.inject({ url, headers: HOST });
      expect(response.statusCode, url).toBe(401);
      expect(response.headers['www-authenticate']).toContain('Bearer');
    }
    expect(
      (
        await guarded.inject({
          method: 'POST',
          url: '/api/jobs/job-000/cancel',
          headers: { ...HOST, 'content-type': 'application/json' },
          payload: '{}',
        })
      ).statusCode,
    ).toBe(401);
    expect((await guarded.inject({ url: '/api/jobs', headers: { ...HOST, authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(200);
    const link = await guarded.inject({ url: `/?token=${TOKEN}`, headers: HOST });
    expect(link.statusCode).toBe(200);
    const setCookie = String(link.headers['set-cookie']);
    expect(setCookie).toMatch(new RegExp(`^${TOKEN_COOKIE}=[0-9a-f]{64}; Max-Age=\\d+; Path=/; HttpOnly; SameSite=Strict$`));
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0]!;
    expect((await guarded.inject({ url: '/api/jobs/job-000', headers: { ...HOST, cookie } })).statusCode).toBe(200);
    expect((await guarded.inject({ url: `/?token=not-the-token-at-all-000`, headers: HOST })).statusCode).toBe(401);
  });
});
