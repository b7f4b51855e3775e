// npm run bench:scale [-- --max-size 2G] [--sizes 10M,100M,500M,2G] [--steps 6] — where the
// design saturates (issue 16). Its part "scale in corpus size" (bench/corpus-scale.ts) grows
// a text corpus from 10 MiB to 2 GiB and measures at each size prepare's time and peak RSS,
// the coordinator's and a worker's peak RSS over a few training steps, the time to plan a
// step, the disk the worker's segment cache uses and the cache's hit rate. Corpora, stores
// and caches live in a scratch directory under .lstm/ (ignored by git) and are removed after
// each size; --work-dir puts them elsewhere. Real processes and a private redis-server.
// Prints a table and writes bench/results/scale.json. Asserts nothing about time.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { startRedisServer } from '../test-support/servers';
import { benchFlag, writeBenchResults } from './bench-results';
import { measureCorpusScale, parseSize, type CorpusScalePoint } from './corpus-scale';

const DEFAULT_SIZES = '10M,100M,500M,2G';
const MiB = 1024 * 1024;

function printCorpusTable(points: readonly CorpusScalePoint[]): void {
  const fixed = (value: number | null, digits = 0): string => (value === null ? '-' : value.toFixed(digits));
  const rows = points.map((p) => [
    `${fixed(p.corpusBytes / MiB)} MiB`,
    `${fixed(p.trainWindows / 1e6, 1)} M`,
    `${fixed(p.prepare.seconds, 1)} s / ${fixed(p.prepare.peakRssMiB)} MiB`,
    `${fixed(p.training.coordinatorPeakMiB)} MiB`,
    `${fixed(p.training.workerPeakMiB)} MiB`,
    `${fixed(p.plan.msPerStep, 3)} ms`,
    `${fixed(p.plan.v1PermutationMs)} ms / ${fixed(p.plan.v1PermutationMiB)} MiB`,
    `${fixed(p.training.cacheDiskMiB)} MiB`,
    `${fixed(100 * p.cache.jobShuffle.hitRate, 1)}% (${p.cache.jobShuffle.shards} shards)`,
    `${fixed(100 * p.cache.uniform.hitRate, 1)}% (${p.cache.uniform.shards} shards)`,
  ]);
  const header = [
    'corpus',
    'windows',
    'prepare time / RSS',
    'coordinator RSS',
    'worker RSS',
    'plan a step (v2)',
    'v1 permutation',
    'worker cache disk',
    'cache hits, v2',
    'cache hits, uniform',
  ];
  for (const row of [header, ...rows]) console.log(row.join(' | '));
}

async function main(): Promise<void> {
  const maxSize = parseSize(benchFlag('--max-size') ?? '2G');
  const sizes = (benchFlag('--sizes') ?? DEFAULT_SIZES)
    .split(',')
    .map(parseSize)
    .filter((size) => size <= maxSize);
  const steps = Number(benchFlag('--steps') ?? 6);
  const base = benchFlag('--work-dir') ?? join(import.meta.dirname, '..', '.lstm');
  mkdirSync(base, { recursive: true });
  const workDir = mkdtempSync(join(base, 'bench-scale-'));
  const redis = await startRedisServer();
  try {
    const corpus = await measureCorpusScale({
      sizes,
      steps,
      hitRateSteps: 200,
      uniformSteps: 2,
      workDir,
      redisUrl: redis.url,
      log: (line) => console.log(line),
    });
    printCorpusTable(corpus);
    writeBenchResults('scale', {
      date: new Date().toISOString(),
      machine: 'shared 2-core VM, Node 20',
      corpus: { text: 'State of the Union repeated, lowercase, lookBack 100, step 1, validation 0', points: corpus },
    });
  } finally {
    redis.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
