// npm run bench:scale:cluster [-- --only local|s3] — scale by simulation (issue 16): the real
// coordinator with 1, 4, 16 and 64 simulated workers (bench/scale-cluster.ts), for models of
// about 120 K and 5 M parameters:
//   1. on a local store directory: the coordinator's serial time per step, its Redis commands
//      and round trips, the bytes through the store, the step time at a fixed compute delay;
//      and the serial time's parts measured alone (ingest, sum, optimizer, weights write);
//   2. with the S3 latency model, at 4, 16 and 64 workers: per-step weights and gradients
//      through the store, and through a separate Redis (never the queue's) instead.
// Private redis-servers (test-support/servers.ts). Prints a table, writes
// bench/results/scale-cluster.json. Asserts nothing about time.
import { startRedisServer } from '../test-support/servers';
import { benchFlag, writeBenchResults } from './bench-results';
import { runClusterScale, type ClusterScaleResult, type ModelSize } from './scale-cluster';
import { measureSerialParts, type SerialParts } from './scale-cluster/serial-parts';

const COMPUTE_DELAY_MS = Number(process.env['BENCH_COMPUTE_DELAY_MS'] ?? 500);
const STEPS = Number(process.env['BENCH_STEPS'] ?? 4);
const WARMUP_STEPS = 2;
// BENCH_MODELS=5m, BENCH_WORKERS=16,64: a subset (e.g. to compare two versions quickly).
const MODELS = (process.env['BENCH_MODELS'] ?? '120k,5m').split(',') as ModelSize[];
const WORKERS = (process.env['BENCH_WORKERS'] ?? '1,4,16,64').split(',').map(Number);
// BENCH_REDUCTIONS=1,2: reduction version 1 (the coordinator sums every shard) beside 2 (the tree).
const REDUCTIONS = (process.env['BENCH_REDUCTIONS'] ?? '2').split(',').map((v) => (v === '1' ? 1 : 2));

function row(result: ClusterScaleResult): string {
  const where = `${result.transport}${result.s3Model ? '+s3' : ''} r${result.reductionVersion}`;
  return [
    where.padEnd(10),
    String(result.workers).padStart(3),
    result.model.padStart(5),
    String(result.serialMs).padStart(7),
    String(result.stepMs).padStart(7),
    String(result.redisCommands).padStart(6),
    String(result.redisRoundTrips).padStart(5),
    String(result.coordinatorStoreRequests).padStart(5),
    String(result.coordinatorStoreMB).padStart(8),
    String(result.workersStoreMB).padStart(8),
    String(result.blobRedisMB).padStart(8),
  ].join(' ');
}

async function main(): Promise<void> {
  const only = benchFlag('--only');
  const queueRedis = await startRedisServer();
  const blobRedis = await startRedisServer();
  const runs: ClusterScaleResult[] = [];
  const parts: (SerialParts & { parameters: number; shards: number })[] = [];
  console.log('where r        N model serial   step   cmds  rtts sreq  coordMB workerMB  redisMB   (per step; ms, MB)');
  const failures: string[] = [];
  const run = async (
    workers: number,
    model: ModelSize,
    s3Model: boolean,
    viaRedis: boolean,
    reductionVersion: 1 | 2,
  ): Promise<ClusterScaleResult | null> => {
    const result = await runClusterScale({
      reductionVersion,
      workers,
      model,
      computeDelayMs: COMPUTE_DELAY_MS,
      redisUrl: queueRedis.url,
      blobRedisUrl: viaRedis ? blobRedis.url : null,
      s3Model,
      warmupSteps: WARMUP_STEPS,
      steps: STEPS,
    }).catch((error: unknown) => {
      const line = `${workers} workers, ${model}, ${s3Model ? 'S3 model' : 'local'}, via ${viaRedis ? 'redis' : 'store'}, reduction ${reductionVersion}: ${String(error)}`;
      console.log(`FAILED ${line}`);
      failures.push(line);
      return null;
    });
    if (result === null) return null;
    console.log(row(result));
    runs.push(result);
    return result;
  };
  try {
    if (only !== 's3') {
      for (const model of MODELS) {
        for (const workers of WORKERS) {
          for (const reductionVersion of REDUCTIONS) {
            const result = await run(workers, model, false, false, reductionVersion);
            if (result === null) continue;
            const measured = await measureSerialParts(result.parameters, workers, reductionVersion);
            parts.push({ parameters: result.parameters, shards: workers, ...measured });
            console.log(`           serial parts alone: ${JSON.stringify(measured)}`);
          }
        }
      }
    }
    if (only !== 'local') {
      for (const model of MODELS) {
        for (const workers of WORKERS.filter((n) => n > 1)) {
          for (const reductionVersion of REDUCTIONS) {
            await run(workers, model, true, false, reductionVersion);
            await run(workers, model, true, true, reductionVersion);
          }
        }
      }
    }
  } finally {
    queueRedis.stop();
    blobRedis.stop();
  }
  writeBenchResults('scale-cluster', { computeDelayMs: COMPUTE_DELAY_MS, steps: STEPS, runs, serialParts: parts, failures });
}

await main();
