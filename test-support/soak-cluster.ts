// The soak's processes and the faults it does to them: a private redis-server (restarted empty
// on its port), `lstm-worker` processes (killed, stopped, slowed), `lstm coordinator` services
// (killed and replaced), and the control file of the store faults every process reads.
import { spawn } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SoakFault } from '@lstm-runner/runner';
import { LSTM_BIN, track, WORKER_BIN, type RunningProcess } from './cluster';
import { startRedisServer, type RedisServerHandle } from './servers';

export interface SoakTimings {
  /** BullMQ lock of a shard: a stopped worker loses its shard after this. */
  readonly lockMs: number;
  readonly stalledMs: number;
  /** The coordinator's lease: a killed one's job is picked up after this. */
  readonly leaseMs: number;
}

export const DEFAULT_SOAK_TIMINGS: SoakTimings = { lockMs: 2000, stalledMs: 1000, leaseMs: 3000 };

interface SoakWorker {
  readonly process: RunningProcess;
  /** Its straggler orders (LSTM_INJECT_SHARD_DELAY_FILE). */
  readonly delayFile: string;
}

function writeAtomically(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class SoakCluster {
  readonly storeFaultsFile: string;
  private redisServers: RedisServerHandle[] = [];
  private workers: SoakWorker[] = [];
  private coordinators: RunningProcess[] = [];
  private readonly all: RunningProcess[] = [];
  private spawned = 0;

  private constructor(
    readonly dir: string,
    private readonly baseEnv: NodeJS.ProcessEnv,
    private readonly timings: SoakTimings,
    private readonly onLine: (source: string, line: string) => void,
  ) {
    this.storeFaultsFile = join(dir, 'store-faults.json');
    writeFileSync(this.storeFaultsFile, '');
  }

  static async start(
    dir: string,
    env: NodeJS.ProcessEnv,
    timings: SoakTimings,
    onLine: (source: string, line: string) => void,
  ): Promise<SoakCluster> {
    const cluster = new SoakCluster(dir, env, timings, onLine);
    cluster.redisServers.push(await startRedisServer());
    return cluster;
  }

  get redis(): RedisServerHandle {
    return this.redisServers[this.redisServers.length - 1]!;
  }

  /** The environment of every process: Redis, store, queue prefix, timings, the store faults' control file. */
  get env(): NodeJS.ProcessEnv {
    return {
      ...this.baseEnv,
      REDIS_URL: this.redis.url,
      LSTM_LOCK_DURATION_MS: String(this.timings.lockMs),
      LSTM_STALLED_INTERVAL_MS: String(this.timings.stalledMs),
      LSTM_LEASE_TTL_MS: String(this.timings.leaseMs),
      LSTM_HEARTBEAT_MS: '500',
      LSTM_INJECT_STORE_FAULTS_FILE: this.storeFaultsFile,
    };
  }

  private follow(source: string, running: RunningProcess): RunningProcess {
    let partial = '';
    running.child.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.onLine(source, line);
    });
    this.all.push(running);
    return running;
  }

  /** Runs an `lstm` command to its end (setup steps: prepare, train without faults). */
  async run(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<RunningProcess> {
    const running = this.follow(
      `lstm ${args[0] ?? ''}`,
      track(spawn(process.execPath, [LSTM_BIN, ...args], { env: { ...this.env, ...extraEnv } })),
    );
    await running.exited;
    return running;
  }

  startWorker(): RunningProcess {
    this.spawned += 1;
    const delayFile = join(this.dir, `shard-delay-${this.spawned}.json`);
    const env = { ...this.env, LSTM_INJECT_SHARD_DELAY_FILE: delayFile };
    const running = track(spawn(process.execPath, [WORKER_BIN, '--backend', 'wasm'], { env }));
    this.follow(`worker ${running.pid}`, running);
    this.workers.push({ process: running, delayFile });
    return running;
  }

  startCoordinator(): RunningProcess {
    const running = track(spawn(process.execPath, [LSTM_BIN, 'coordinator'], { env: this.env }));
    this.follow(`coordinator ${running.pid}`, running);
    this.coordinators.push(running);
    return running;
  }

  private workerFor(fault: SoakFault): SoakWorker {
    const live = this.workers.filter((worker) => worker.process.child.exitCode === null && worker.process.child.signalCode === null);
    const worker = live[fault.worker % live.length];
    if (worker === undefined) throw new Error('the soak has no live worker');
    return worker;
  }

  /** Carries the fault out; resolves when it is over (not when the job has recovered). Says what it did. */
  async inject(fault: SoakFault): Promise<string> {
    switch (fault.kind) {
      case 'kill-worker': {
        const { process: victim } = this.workerFor(fault);
        victim.kill('SIGKILL');
        await victim.exited;
        this.workers = this.workers.filter((worker) => worker.process !== victim);
        return `worker ${victim.pid} killed, worker ${this.startWorker().pid} started`;
      }
      case 'kill-coordinator': {
        const victim = this.coordinators[this.coordinators.length - 1]!;
        victim.kill('SIGKILL');
        await victim.exited;
        return `coordinator ${victim.pid} killed, coordinator ${this.startCoordinator().pid} started`;
      }
      case 'stop-worker': {
        const { process: victim } = this.workerFor(fault);
        const stoppedMs = this.timings.lockMs + this.timings.stalledMs + fault.durationMs;
        victim.kill('SIGSTOP');
        await sleep(stoppedMs);
        victim.child.kill('SIGCONT');
        return `worker ${victim.pid} stopped for ${stoppedMs} ms`;
      }
      case 'restart-redis': {
        const { port } = this.redis;
        this.redis.kill();
        this.redisServers.push(await startRedisServer(port));
        return `redis on port ${port} replaced by an empty one`;
      }
      case 'store-errors':
        writeAtomically(this.storeFaultsFile, JSON.stringify({ startsAtMs: Date.now(), failForMs: fault.durationMs, log: true }));
        await sleep(fault.durationMs);
        return `every store call failed for ${fault.durationMs} ms`;
      case 'straggler': {
        const { process: slow, delayFile } = this.workerFor(fault);
        writeAtomically(delayFile, JSON.stringify({ id: `fault-${fault.index}`, delayMs: fault.durationMs, shards: 1 }));
        return `worker ${slow.pid}'s next shard ${fault.durationMs} ms slower`;
      }
    }
  }

  /** Kills every process and Redis, and waits for them. Idempotent. */
  async stop(): Promise<void> {
    for (const running of this.all) {
      running.child.kill('SIGCONT');
      running.kill('SIGKILL');
    }
    await Promise.all(this.all.map((running) => running.exited));
    for (const server of this.redisServers) server.stop();
  }
}
