// npm run bench:peers — lstm-runner against PyTorch on the same cores, side by side in one run:
//   1. one training step on 1 thread, for the two reference workloads of bench:core (char-LM
//      with clipping at 5, time series): ours (bench:core's step, on the backend chosen by
//      --backend) and PyTorch's nn.LSTM (bench/peers/torch_step.py, torch.set_num_threads(1));
//   2. the char-LM end to end with 2 workers: ours as `lstm train --local-workers 2` (bench:
//      distributed's runs, windows/s from the median steady step) and PyTorch
//      DistributedDataParallel over gloo, 2 processes x 1 thread, global batch 128
//      (bench/peers/torch_ddp.py, windows/s from its median step after warm-up).
// The step measurements are served by four processes kept alive for the whole run (ours and
// PyTorch, one per workload, each warmed up once), so every round asks each for a few steps;
// rounds interleave ours and PyTorch, and alternate which goes first. Times are medians over
// all rounds; ratios are medians of the rounds' ratios, written "ours vs PyTorch" as the
// factor by which ours is faster (below 1: slower).
// The peer is Python's torch at $LSTM_PYTHON (default /usr/bin/python3: the first python3
// on a PATH may be another interpreter without torch); when it cannot import torch the
// bench says why in one line and measures ours alone.
// Prints a table and writes bench/results/peers.json and a dated copy. Asserts nothing about
// time. Not part of CI.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadComputeBackend } from '@lstm-runner/backends';
import type { LoadedBackend } from '@lstm-runner/lstm-core';
import { startRedisServer } from '../test-support/servers';
import { benchFlag, median, writeBenchResults } from './bench-results';
import { createTrainingStep, makeBatch, round, workloads, type Workload } from './core.bench';
import { measureEndToEnd, runTraining, STEPS, writeCharLmSpec } from './distributed.bench';

const ROOT = join(import.meta.dirname, '..');
const PEER_DIR = join(import.meta.dirname, 'peers');
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const PYTHON = process.env['LSTM_PYTHON'] ?? '/usr/bin/python3';
const WARM_UP_STEPS = 2;
/** Steps of each side per round, per workload. */
const STEPS_PER_ROUND: Record<Workload['key'], number> = { charLm: 3, timeSeries: 6 };
/** The char-LM clips the gradient's global norm at 5 (performance.md's workload), on both sides. */
const CLIP_NORM: Record<Workload['key'], number | undefined> = { charLm: 5, timeSeries: undefined };
/** DDP: steps timed per round after its warm-up steps. */
// Our end-to-end run cuts the global batch of 128 into one shard per worker: with native
// steps of ~60 ms, shards of 32 (two per worker a step) lost 12-15% to per-shard costs
// (2026-11-29: 1,778-1,882 windows/s with shards of 32, 1,969-2,169 with 64, same minutes).
const END_TO_END_SHARD_SIZE = 64;
const DDP_STEPS = 30;
const DDP_WARM_UP_STEPS = 5;

// ---------------------------------------------------------------------------------------
// Our backend: the apps' own catalog, so 'auto' picks what `lstm worker` would here.

/** `name` loaded as the workers load it, or an error naming the flag. */
async function chooseBackend(name: string): Promise<LoadedBackend> {
  try {
    return await loadComputeBackend(name);
  } catch (error) {
    throw new Error(`--backend ${name}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------------------
// Processes that serve steps: started once, asked for N steps a round, one JSON line per answer.

class StepServer {
  private readonly lines: AsyncIterator<string>;
  private stderr = '';

  private constructor(
    readonly label: string,
    private readonly child: ChildProcessWithoutNullStreams,
  ) {
    child.stderr.on('data', (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    this.lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  }

  /** Starts `command args` and waits for its {"ready": true, ...} line, which it returns. */
  static async start(
    label: string,
    command: string,
    args: readonly string[],
    env: NodeJS.ProcessEnv,
  ): Promise<{ server: StepServer; ready: Record<string, unknown> }> {
    const server = new StepServer(label, spawn(command, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] }));
    const ready = await server.next();
    if (ready['ready'] !== true) throw new Error(`${label}: expected a ready line first, got ${JSON.stringify(ready)}`);
    return { server, ready };
  }

  /** Runs `steps` training steps there and returns their times in ms. */
  async run(steps: number): Promise<number[]> {
    this.child.stdin.write(`run ${steps}\n`);
    const { ms } = await this.next();
    if (!Array.isArray(ms) || ms.length !== steps)
      throw new Error(`${this.label}: expected ${steps} step times, got ${JSON.stringify(ms)}`);
    return ms as number[];
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.stdin.end();
    await exited;
  }

  private async next(): Promise<Record<string, unknown>> {
    const { value, done } = await this.lines.next();
    if (done === true) throw new Error(`${this.label} exited before answering:\n${this.stderr}`);
    return JSON.parse(value) as Record<string, unknown>;
  }
}

/** Serves our training step of one workload (`--ours-step KEY --backend NAME`), in a process of its own as bench:core measures it. */
async function serveOurStep(key: string, backendName: string): Promise<void> {
  const workload = workloads.find((w) => w.key === key);
  if (workload === undefined) throw new Error(`unknown workload ${key}`);
  const loaded = await chooseBackend(backendName);
  const { step } = createTrainingStep(workload.spec, loaded.backend, makeBatch(workload), CLIP_NORM[workload.key]);
  for (let n = 0; n < WARM_UP_STEPS; n++) step();
  const emit = (message: unknown): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
  emit({ ready: true, backend: loaded.backend.description });
  for await (const line of createInterface({ input: process.stdin })) {
    const steps = Number(/^run (\d+)$/.exec(line.trim())?.[1]);
    if (!Number.isInteger(steps)) throw new Error(`--ours-step: expected "run N" on stdin, got ${JSON.stringify(line)}`);
    const ms: number[] = [];
    for (let n = 0; n < steps; n++) {
      const started = performance.now();
      step();
      ms.push(performance.now() - started);
    }
    emit({ ms });
  }
  loaded.backend.dispose();
}

// ---------------------------------------------------------------------------------------
// The peer: its environment, and whether it can run here.

export interface Peer {
  readonly env: NodeJS.ProcessEnv;
  readonly description: Record<string, unknown>;
  /** OPENBLAS_CORETYPE given to the peer, and why. */
  readonly coretype: { readonly value: string | null; readonly why: string };
}

/** A generic kernel set OpenBLAS falls back to when it does not know the CPU. */
const GENERIC_OPENBLAS_CORES = /\b(Prescott|Core2|Katmai|Coppermine|Northwood|Banias|Atom|Nehalem)\b/;

/**
 * The peer's environment: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (set on some machines for
 * old OpenBLAS builds) removed, one thread for OpenBLAS and OpenMP. When OpenBLAS then does
 * not recognise the CPU and falls back to a generic kernel set (Debian's 0.3.21 on Intel
 * family 6 model 207 takes Prescott: its char-LM step ran 2.2x slower than with SkylakeX),
 * the peer gets the kernel set the CPU's flags support, so that PyTorch is measured at its
 * best here. `--openblas-coretype NAME` forces one; `--openblas-coretype detected` keeps
 * what OpenBLAS detects.
 */
export function peerSetup(forced: string | undefined): Peer | { readonly skipped: string } {
  const { OPENBLAS_CORETYPE: _coretype, OPENBLAS_L2_SIZE: _l2, ...inherited } = process.env;
  const env: NodeJS.ProcessEnv = { ...inherited, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1' };
  const describe = (withEnv: NodeJS.ProcessEnv): Record<string, unknown> | { skipped: string } => {
    const probe = spawnSync(PYTHON, ['-c', 'import json, common; print(json.dumps(common.describe_peer()))'], {
      cwd: PEER_DIR,
      env: withEnv,
      encoding: 'utf8',
    });
    if (probe.error !== undefined) return { skipped: `PyTorch skipped: ${PYTHON} cannot run (${probe.error.message}); set LSTM_PYTHON` };
    if (probe.status !== 0) {
      const last = probe.stderr.trim().split('\n').at(-1) ?? `exit ${probe.status}`;
      return { skipped: `PyTorch skipped: ${PYTHON} cannot import torch (${last}); install python3-torch or set LSTM_PYTHON` };
    }
    return JSON.parse(probe.stdout) as Record<string, unknown>;
  };
  if (forced !== undefined && forced !== 'detected') {
    const forcedEnv = { ...env, OPENBLAS_CORETYPE: forced };
    const description = describe(forcedEnv);
    return 'skipped' in description
      ? { skipped: String(description.skipped) }
      : { env: forcedEnv, description, coretype: { value: forced, why: '--openblas-coretype' } };
  }
  const detected = describe(env);
  if ('skipped' in detected) return { skipped: String(detected.skipped) };
  const blas = String(detected['blas']);
  const fallback = GENERIC_OPENBLAS_CORES.exec(blas)?.[1];
  if (forced === 'detected' || fallback === undefined)
    return { env, description: detected, coretype: { value: null, why: 'what OpenBLAS detects' } };
  const flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.split(/\s+/) ?? [];
  const best = flags.includes('avx512f') ? 'SkylakeX' : flags.includes('avx2') ? 'Haswell' : null;
  if (best === null)
    return {
      env,
      description: detected,
      coretype: { value: null, why: `OpenBLAS chose ${fallback}; the CPU has neither AVX-512 nor AVX2` },
    };
  const tunedEnv = { ...env, OPENBLAS_CORETYPE: best };
  const tuned = describe(tunedEnv);
  if ('skipped' in tuned) return { skipped: String(tuned.skipped) };
  return {
    env: tunedEnv,
    description: tuned,
    coretype: {
      value: best,
      why: `OpenBLAS did not recognise this CPU and chose its generic ${fallback} kernels; the CPU has ${best === 'SkylakeX' ? 'AVX-512' : 'AVX2'}`,
    },
  };
}

interface DdpResult {
  readonly windowsPerSecond: number;
  readonly windowsPerSecondOverall: number;
  readonly msPerStep: number;
}

function runDdp(peer: Peer): DdpResult {
  const args = [join(PEER_DIR, 'torch_ddp.py'), '--corpus', join(ROOT, '.lstm/data/moby-dick.txt'), '--processes', '2', '--threads', '1'];
  args.push('--global-batch', '128', '--steps', String(DDP_STEPS), '--warm-up-steps', String(DDP_WARM_UP_STEPS));
  const run = spawnSync(PYTHON, args, { cwd: PEER_DIR, env: peer.env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`torch_ddp.py failed:\n${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as DdpResult;
}

// ---------------------------------------------------------------------------------------

interface StepRound {
  readonly ours: number[];
  readonly pytorch: number[] | null;
}

const fmt = (value: number | null | undefined, digits = 1): string =>
  value == null || !Number.isFinite(value) ? '-' : value.toFixed(digits);

async function main(): Promise<void> {
  const chosen = await chooseBackend(benchFlag('--backend') ?? 'auto');
  const backend = chosen.backend;
  const backendLine = chosen.summary;
  backend.dispose();
  const setup = peerSetup(benchFlag('--openblas-coretype'));
  const peer = 'skipped' in setup ? null : setup;
  const loadBefore = os.loadavg();
  console.log(`ours: ${backendLine}`);
  if (peer === null) console.log((setup as { skipped: string }).skipped);
  else {
    const d = peer.description;
    console.log(
      `peer: PyTorch ${d['torch']} (Debian python3-torch ${d['debianPackage'] ?? '?'}), Python ${d['python']} at ${PYTHON}; BLAS ${d['blas']}`,
    );
    console.log(
      `peer: OPENBLAS_CORETYPE=${peer.coretype.value ?? '(unset)'}: ${peer.coretype.why}; OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1)`,
    );
  }
  console.log(
    `machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cpus, node ${process.version}, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
  );

  spawnSync(process.execPath, [join(ROOT, 'scripts/example-data.mjs')], { cwd: ROOT, stdio: 'inherit' });
  const dir = mkdtempSync(join(os.tmpdir(), 'lstm-bench-peers-'));
  const redis = await startRedisServer();
  const servers: StepServer[] = [];
  try {
    const oursEnv = { ...process.env, OMP_NUM_THREADS: '1' };
    const stepServers = new Map<Workload['key'], { ours: StepServer; pytorch: StepServer | null }>();
    for (const workload of workloads) {
      const ours = await StepServer.start(
        `our ${workload.key} step`,
        process.execPath,
        [...process.execArgv, import.meta.filename, '--ours-step', workload.key, '--backend', backend.name],
        oursEnv,
      );
      servers.push(ours.server);
      let pytorch: StepServer | null = null;
      if (peer !== null) {
        pytorch = (
          await StepServer.start(
            `PyTorch ${workload.key} step`,
            PYTHON,
            [join(PEER_DIR, 'torch_step.py'), '--workload', workload.key, '--threads', '1'],
            peer.env,
          )
        ).server;
        servers.push(pytorch);
      }
      stepServers.set(workload.key, { ours: ours.server, pytorch });
    }
    const spec = join(dir, 'char-lm.yaml');
    writeCharLmSpec(spec, 'bench-peers', 'moby-dick.txt', 3, `maxSteps: ${STEPS}`, {
      backend: backend.name,
      threads: 1,
      shardSize: END_TO_END_SHARD_SIZE,
    });
    const storeDir = join(dir, 'store');

    const stepRounds = new Map<Workload['key'], StepRound[]>(workloads.map((w) => [w.key, []]));
    const endToEndRounds: { ours: number; ddp: DdpResult | null }[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const peerFirst = r % 2 === 1;
      for (const workload of workloads) {
        const { ours, pytorch } = stepServers.get(workload.key)!;
        const steps = STEPS_PER_ROUND[workload.key];
        const peerMs = peerFirst && pytorch !== null ? await pytorch.run(steps) : null;
        const oursMs = await ours.run(steps);
        const pytorchMs = peerFirst || pytorch === null ? peerMs : await pytorch.run(steps);
        stepRounds.get(workload.key)!.push({ ours: oursMs, pytorch: pytorchMs });
      }
      const ddpFirst = peerFirst && peer !== null ? runDdp(peer) : null;
      const jobId = `bench-peers-r${r}`;
      runTraining(spec, jobId, 2, redis.url, storeDir);
      const ours = (await measureEndToEnd(storeDir, jobId)).windowsPerSecond;
      const ddp = peerFirst || peer === null ? ddpFirst : runDdp(peer);
      endToEndRounds.push({ ours, ddp });
      const steps = workloads.map((w) => {
        const last = stepRounds.get(w.key)!.at(-1)!;
        return `${w.key} ours ${fmt(median(last.ours))} ms, PyTorch ${last.pytorch === null ? '-' : fmt(median(last.pytorch))} ms`;
      });
      console.log(`round ${r + 1}/${ROUNDS}: ${steps.join('; ')}; 2 workers ${fmt(ours)} windows/s, DDP ${fmt(ddp?.windowsPerSecond)}`);
    }
    const loadAfter = os.loadavg();

    const stepResult = (key: Workload['key']) => {
      const rounds = stepRounds.get(key)!;
      const ratios = peer === null ? [] : rounds.map((r) => median(r.pytorch!) / median(r.ours));
      return {
        ours: { msPerStep: round(median(rounds.flatMap((r) => r.ours)), 1), msPerRound: rounds.map((r) => round(median(r.ours), 1)) },
        pytorch:
          peer === null
            ? null
            : {
                msPerStep: round(median(rounds.flatMap((r) => r.pytorch!)), 1),
                msPerRound: rounds.map((r) => round(median(r.pytorch!), 1)),
              },
        oursVsPytorch: peer === null ? null : round(median(ratios), 2),
        oursVsPytorchPerRound: ratios.map((v) => round(v, 2)),
        stepsPerRound: STEPS_PER_ROUND[key],
        clipNorm: CLIP_NORM[key] ?? null,
      };
    };
    const e2eRatios = peer === null ? [] : endToEndRounds.map((r) => r.ours / r.ddp!.windowsPerSecond);
    const results = {
      date: new Date().toISOString(),
      machine: {
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cpus: os.cpus().length,
        node: process.version,
        loadAverageBefore: loadBefore.map((l) => round(l, 2)),
        loadAverageAfter: loadAfter.map((l) => round(l, 2)),
      },
      rounds: ROUNDS,
      ours: { backend: backend.name, description: backendLine, requested: chosen.requested },
      peer:
        peer === null
          ? { skipped: (setup as { skipped: string }).skipped }
          : { interpreter: PYTHON, ...peer.description, openblasCoretype: peer.coretype },
      charLm: { title: workloads.find((w) => w.key === 'charLm')!.title, ...stepResult('charLm') },
      timeSeries: { title: workloads.find((w) => w.key === 'timeSeries')!.title, ...stepResult('timeSeries') },
      endToEnd: {
        title: `char-LM on Moby Dick (E=50, H=128, B=128 global, T=100): lstm train --local-workers 2 (shards of ${END_TO_END_SHARD_SIZE}) vs PyTorch DDP over gloo, 2 processes x 1 thread`,
        ours: {
          workers: 2,
          steps: STEPS,
          windowsPerSecond: round(median(endToEndRounds.map((r) => r.ours)), 1),
          perRound: endToEndRounds.map((r) => round(r.ours, 1)),
        },
        ddp:
          peer === null
            ? null
            : {
                processes: 2,
                threadsPerProcess: 1,
                steps: DDP_STEPS,
                warmUpSteps: DDP_WARM_UP_STEPS,
                windowsPerSecond: round(median(endToEndRounds.map((r) => r.ddp!.windowsPerSecond)), 1),
                windowsPerSecondOverall: round(median(endToEndRounds.map((r) => r.ddp!.windowsPerSecondOverall)), 1),
                perRound: endToEndRounds.map((r) => round(r.ddp!.windowsPerSecond, 1)),
              },
        oursVsDdp: peer === null ? null : round(median(e2eRatios), 2),
        oursVsDdpPerRound: e2eRatios.map((v) => round(v, 2)),
      },
    };

    const peerName =
      peer === null ? 'PyTorch (skipped)' : `PyTorch ${String(peer.description['debianPackage'] ?? peer.description['torch'])}`;
    console.log(
      `\nlstm-runner (${backend.name}) vs ${peerName}, medians of ${ROUNDS} interleaved rounds; "ours vs PyTorch" = how many times faster ours is`,
    );
    console.log(`| what | ours (${backend.name}) | PyTorch | ours vs PyTorch | target (issue 11, native) |`);
    console.log('| --- | ---: | ---: | ---: | --- |');
    for (const [key, label] of [
      ['charLm', 'char-LM step, 1 thread, ms'],
      ['timeSeries', 'time-series step, 1 thread, ms'],
    ] as const) {
      const r = results[key];
      console.log(
        `| ${label} | ${fmt(r.ours.msPerStep)} | ${fmt(r.pytorch?.msPerStep)} | ${r.oursVsPytorch === null ? '-' : `${fmt(r.oursVsPytorch, 2)}x`} | >= 1.2x |`,
      );
    }
    const e2e = results.endToEnd;
    console.log(
      `| char-LM end to end, windows/s: 2 workers vs DDP 2 x 1 thread | ${fmt(e2e.ours.windowsPerSecond)} | ${fmt(e2e.ddp?.windowsPerSecond)} | ${e2e.oursVsDdp === null ? '-' : `${fmt(e2e.oursVsDdp, 2)}x`} | >= 1.3x |`,
    );
    console.log(
      `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
    );

    writeBenchResults('peers', results);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
    redis.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === import.meta.filename) {
  const ourStep = benchFlag('--ours-step');
  try {
    if (ourStep !== undefined) await serveOurStep(ourStep, benchFlag('--backend') ?? 'auto');
    else await main();
  } catch (error) {
    console.error(`bench:peers: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}
