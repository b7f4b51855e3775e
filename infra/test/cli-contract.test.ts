// What the deployment files ask of the `lstm` command: every subcommand and flag that
// compose.yaml, the Kubernetes manifests and the Dockerfiles pass exists in `lstm --help`
// output (or is pending below), and every env variable they set is one the code reads, a
// standard one, or pending.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  composeLstmContainers,
  cpuDockerfile,
  filesUnder,
  gpuDockerfile,
  k8sLstmContainers,
  repoRoot,
  shown,
  type LstmContainer,
} from './infra-files';

// Flags the deployment files use before the apps have them: another engineer is adding them
// (issues 14 and 15). The semantics the files rely on are written next to each. When a flag
// lands, this test fails until it is removed from here; a pending flag no file uses fails too.
const pendingFlags: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  coordinator: {
    '--http-port':
      'one HTTP port with GET /healthz (200 while the event loop answers), /readyz (200 once Redis and the store answer), ' +
      '/metrics (Prometheus text) and /scaling ({"profiles": {"<profile>": {"desiredWorkers": N, "runningJobs": M}}, "desiredWorkers": total}, ' +
      'desiredWorkers = shards per step of the running jobs of that profile, capped; a profile with no running job may be absent)',
  },
  worker: {
    '--http-port': 'GET /healthz, /readyz (200 once Redis and the store answer and the backend has loaded) and /metrics on this port',
    '--threads': 'threads one shard is computed with: the t<threads> of the numerics profile the worker serves (wasm: 1)',
  },
};

// Env variables the deployment files set before the code reads them.
const pendingEnv: Readonly<Record<string, string>> = {
  LSTM_HTTP_PORT:
    'the HTTP port of `lstm coordinator` and `lstm worker` when --http-port is not given (the images set 8080; their HEALTHCHECK reads it)',
};

// Standard variables read by the libraries and runtimes in the images, not by our code.
const standardEnv: readonly RegExp[] = [
  /^AWS_/, // the AWS SDK's credential chain and region
  /^NODE_OPTIONS$|^NODE_EXTRA_CA_CERTS$/, // Node.js
  /^PATH$/,
  /^TF_/, // TensorFlow (libtensorflow under @tensorflow/tfjs-node-gpu)
  /^NVIDIA_/, // the NVIDIA container toolkit
  /^npm_config_/, // npm, in the images' build stages
];

const LSTM = join(repoRoot, 'apps', 'coordinator', 'bin', 'lstm.js');

const helpTexts = new Map<string, string>();

/** `lstm [command] --help` output (for `worker`, lstm-worker's, which `lstm worker` passes it to). */
function help(command = ''): string {
  let text = helpTexts.get(command);
  if (text === undefined) {
    const result = spawnSync(process.execPath, [LSTM, ...(command === '' ? [] : [command]), '--help'], { cwd: repoRoot, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`lstm ${command} --help exited with ${String(result.status)}: ${result.stderr}`);
    text = result.stdout;
    helpTexts.set(command, text);
  }
  return text;
}

function flagsOf(helpText: string): Set<string> {
  return new Set([...helpText.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]*)/gm)].map((match) => match[1]!));
}

const commands = new Set([...(help().split('Commands:')[1] ?? '').matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((match) => match[1]!));

const dockerfileContainers: LstmContainer[] = [cpuDockerfile, gpuDockerfile].map((dockerfile) => ({
  where: `${shown(dockerfile.path)} CMD`,
  dockerfile,
  args: dockerfile.cmd,
  env: dockerfile.env,
}));
const containers = [...composeLstmContainers(), ...k8sLstmContainers(), ...dockerfileContainers];

/** Env variable names the code reads: in every source file that touches the environment, the literals and properties shaped like one. */
function envReadByCode(): Set<string> {
  const sources = ['apps', 'libs'].flatMap((dir) =>
    filesUnder(join(repoRoot, dir), (name) => /\.(ts|js)$/.test(name) && !name.endsWith('.test.ts')),
  );
  const names = new Set<string>();
  for (const file of sources) {
    const text = readFileSync(file, 'utf8');
    if (!/\benv\b/.test(text)) continue;
    for (const match of text.matchAll(/['"]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)['"]|\benv\.([A-Z][A-Z0-9_]*)/g))
      names.add(match[1] ?? match[2]!);
  }
  return names;
}

describe('the lstm command the deployment files run', () => {
  it('the images run `lstm`, the bin of the coordinator app', () => {
    const { bin } = JSON.parse(readFileSync(join(repoRoot, 'apps', 'coordinator', 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(Object.keys(bin)).toContain('lstm');
    for (const dockerfile of [cpuDockerfile, gpuDockerfile]) expect(dockerfile.entrypoint, shown(dockerfile.path)).toEqual(['lstm']);
  });

  it('finds the containers to check', () => {
    expect(containers.map((container) => container.args[0])).toEqual(expect.arrayContaining(['coordinator', 'worker', 'status']));
    expect(containers.length).toBeGreaterThanOrEqual(8);
  });

  it.each(containers.map((container) => [container.where, container] as const))(
    '%s: a command and flags `lstm` has or will have',
    (_, container) => {
      const [command = '', ...args] = container.args;
      expect(commands, `lstm ${command}`).toContain(command);
      const present = flagsOf(help(command));
      const pending = Object.keys(pendingFlags[command] ?? {});
      const used = args.filter((arg) => arg.startsWith('--')).map((arg) => arg.split('=')[0]!);
      expect(
        used.filter((flag) => !present.has(flag) && !pending.includes(flag)),
        `lstm ${command}: flags neither in --help nor pending`,
      ).toEqual([]);
    },
  );

  it.each(Object.entries(pendingFlags))(
    'pending flags of lstm %s are still missing from --help and used by a deployment file',
    (command, flags) => {
      const present = flagsOf(help(command));
      for (const flag of Object.keys(flags)) {
        expect(present.has(flag), `lstm ${command} ${flag} exists now: remove it from pendingFlags`).toBe(false);
        const users = containers.filter((container) => container.args[0] === command && container.args.includes(flag));
        expect(users.length, `lstm ${command} ${flag} is pending but no deployment file uses it`).toBeGreaterThan(0);
      }
    },
  );

  it('every env variable set on an lstm container is read by the code, standard, or pending', () => {
    const read = envReadByCode();
    // The variables the issue names as read today.
    for (const name of [
      'REDIS_URL',
      'LSTM_STORE',
      'S3_ENDPOINT',
      'LSTM_CACHE_DIR',
      'LSTM_QUEUE_PREFIX',
      'LSTM_LOCK_DURATION_MS',
      'LSTM_STALLED_INTERVAL_MS',
      'LSTM_LEASE_TTL_MS',
    ]) {
      expect(read, name).toContain(name);
    }
    const unknown = containers.flatMap((container) =>
      container.env
        .filter((name) => !read.has(name) && !standardEnv.some((pattern) => pattern.test(name)) && !(name in pendingEnv))
        .map((name) => `${container.where}: ${name}`),
    );
    expect(unknown).toEqual([]);
    for (const name of Object.keys(pendingEnv)) {
      expect(read.has(name), `${name} is read by the code now: remove it from pendingEnv`).toBe(false);
      expect(
        containers.some((container) => container.env.includes(name)),
        `${name} is pending but no deployment file sets it`,
      ).toBe(true);
    }
  });
});
