// What the deployment files ask of the `lstm` command: every subcommand and flag that
// compose.yaml, the Kubernetes manifests and the Dockerfiles pass exists in `lstm --help`
// output, and every env variable they set is one the code reads or a standard one.
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
      const used = args.filter((arg) => arg.startsWith('--')).map((arg) => arg.split('=')[0]!);
      expect(
        used.filter((flag) => !present.has(flag)),
        `lstm ${command}: flags not in --help`,
      ).toEqual([]);
    },
  );

  it('every env variable set on an lstm container is read by the code or standard', () => {
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
        .filter((name) => !read.has(name) && !standardEnv.some((pattern) => pattern.test(name)))
        .map((name) => `${container.where}: ${name}`),
    );
    expect(unknown).toEqual([]);
  });
});
