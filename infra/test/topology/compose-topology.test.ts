// infra/compose.yaml's topology run with local processes as its containers would run: the
// redis service's own redis-server command, the test run's s3rver in MinIO's place, and
// `lstm coordinator`, two `lstm worker`s and the one-off `cli` started with the commands and
// the environment compose.yaml gives them. Only what a container engine adds is replaced:
// service host names become 127.0.0.1 ports, each process gets its own --http-port (in
// containers they all listen on 8080 of their own network), and the image's ENV settings
// that point into the image (LSTM_CACHE_DIR) point into a temporary directory.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { LSTM_BIN, SENSOR_CSV, track, type RunningProcess } from '../../../test-support/cluster';
import { freePort } from '../../../test-support/servers';
import { composePath, cpuDockerfile, envExamplePath, interpolate, isMap, readEnvFile, type YamlMap } from '../infra-files';

const REDIS_PASSWORD = `pw${randomBytes(6).toString('hex')}`;

/** compose.yaml interpolated with infra/.env.example, its secrets and names set for this test. */
function composeServicesForTest(storePrefix: string, bucket: string): Record<string, YamlMap> {
  const values = readEnvFile(envExamplePath);
  values.set('REDIS_PASSWORD', REDIS_PASSWORD);
  values.set('MINIO_ROOT_PASSWORD', 'not-used');
  values.set('LSTM_S3_ACCESS_KEY', 'S3RVER');
  values.set('LSTM_S3_SECRET_KEY', 'S3RVER');
  values.set('LSTM_BUCKET', bucket);
  values.set('LSTM_STORE_PREFIX', storePrefix);
  const compose = parse(interpolate(readFileSync(composePath, 'utf8'), values), { merge: true }) as YamlMap;
  const services = compose['services'];
  if (!isMap(services)) throw new Error('compose.yaml: no services');
  return services as Record<string, YamlMap>;
}

function stringList(value: unknown, where: string): string[] {
  if (!Array.isArray(value)) throw new Error(`compose.yaml: ${where} is not a list`);
  return value.map(String);
}

/** The environment a service's container gets, with compose's host names replaced by local addresses. */
function serviceEnvironment(service: YamlMap, redisPort: number, s3Endpoint: string, cacheDir: string): NodeJS.ProcessEnv {
  const environment = service['environment'];
  if (!isMap(environment)) throw new Error('compose.yaml: an lstm service has no environment');
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], LSTM_CACHE_DIR: cacheDir };
  for (const [name, value] of Object.entries(environment)) {
    env[name] = String(value).replace('@redis:6379', `@127.0.0.1:${redisPort}`).replace('http://minio:9000', s3Endpoint);
  }
  return env;
}

/** A service's `lstm` arguments with its --http-port moved to a free port of this machine. */
async function localArgs(args: string[]): Promise<{ args: string[]; httpPort: number | null }> {
  const at = args.indexOf('--http-port');
  if (at < 0) return { args, httpPort: null };
  const httpPort = await freePort();
  return { args: args.map((arg, index) => (index === at + 1 ? String(httpPort) : arg)), httpPort };
}

function startProcess(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): RunningProcess {
  return track(spawn(command, args, { env, cwd }));
}

async function waitForReady(port: number, what: RunningProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`not ready on port ${port} after ${timeoutMs} ms:\n${what.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('compose.yaml topology, run with local processes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lstm-compose-topology-'));
  const storePrefix = `compose-${randomBytes(4).toString('hex')}`;
  const services = composeServicesForTest(storePrefix, inject('s3Bucket'));
  const processes: RunningProcess[] = [];
  let redisPort = 0;

  const lstmService = async (name: string, args: string[]): Promise<{ process: RunningProcess; httpPort: number | null }> => {
    const service = services[name];
    if (service === undefined) throw new Error(`compose.yaml: no service ${name}`);
    const local = await localArgs(args);
    const env = serviceEnvironment(service, redisPort, inject('s3Endpoint'), join(dir, `cache-${processes.length}`));
    // The image's ENTRYPOINT is `lstm`: the service's command is its arguments.
    expect(cpuDockerfile.entrypoint).toEqual(['lstm']);
    const running = startProcess(process.execPath, [LSTM_BIN, ...local.args], env, dir);
    processes.push(running);
    return { process: running, httpPort: local.httpPort };
  };

  beforeAll(async () => {
    const redis = services['redis'];
    if (redis === undefined) throw new Error('compose.yaml: no redis service');
    const [command = '', ...redisArgs] = stringList(redis['command'], 'services.redis.command');
    redisPort = await freePort();
    const server = startProcess(
      command,
      [...redisArgs, '--port', String(redisPort), '--bind', '127.0.0.1', '--dir', dir],
      process.env,
      dir,
    );
    processes.push(server);
    for (let i = 0; i < 100 && !server.stdout().includes('Ready to accept connections'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(server.stdout()).toContain('Ready to accept connections');
  });

  afterAll(async () => {
    for (const running of processes) running.kill('SIGKILL');
    await Promise.all(processes.map((running) => running.exited));
    rmSync(dir, { recursive: true, force: true });
  });

  it('the coordinator and two CPU workers come up ready, and `cli train --follow` trains a job on them', async () => {
    const coordinator = await lstmService('coordinator', stringList(services['coordinator']?.['command'], 'coordinator.command'));
    const workerArgs = stringList(services['worker']?.['command'], 'worker.command');
    const workers = [await lstmService('worker', workerArgs), await lstmService('worker', workerArgs)];
    for (const started of [coordinator, ...workers]) await waitForReady(started.httpPort!, started.process);

    const spec = join(dir, 'sensors.yaml');
    writeFileSync(
      spec,
      `name: compose-sensors
data:
  source: ${SENSOR_CSV}
  format: csv
  csv: { features: [humidity, temperature], targets: [temperature] }
  window: { lookBack: 10 }
  validation: 0.1
model: { layers: [8] }
training: { epochs: 1, batchSize: 32, shardSize: 8, seed: 3, maxSteps: 6, checkpointEvery: 3, validateEvery: 3, profile: { backend: auto, threads: 1 } }
`,
    );
    // `docker compose run --rm cli train <spec> --follow`: the cli service's environment, the user's arguments.
    const cli = await lstmService('cli', ['train', spec, '--follow']);
    expect(await cli.process.exited, cli.process.stderr()).toBe(0);
    expect(cli.process.stderr()).toMatch(/completed/);

    const jobId = cli.process.stdout().trim().split('\n').pop()!.trim();
    const status = await lstmService('cli', ['status', jobId, '--json']);
    expect(await status.process.exited, status.process.stderr()).toBe(0);
    expect(JSON.parse(status.process.stdout())).toMatchObject({ state: 'completed', step: 6 });

    // SIGTERM, as `docker compose down` sends it: every service leaves cleanly.
    for (const started of [coordinator, ...workers]) started.process.kill('SIGTERM');
    const exits = await Promise.all([coordinator, ...workers].map((started) => started.process.exited));
    expect(exits).toEqual([0, 0, 0]);
  });
});
