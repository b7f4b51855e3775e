#!/usr/bin/env node
// npm test: formatting (prettier), module boundaries and type-aware rules (lint), types, then vitest (unit files in parallel, then the
// integration files one at a time against their own redis-server and s3rver). Ends with one
// plain line of counts, `Tests: N passed, N failed, N skipped`, for tools that read only the
// closing line.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const run = (command, args) => spawnSync(command, args, { stdio: 'inherit', shell: false }).status ?? 1;
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

for (const [what, args] of [
  ['project graph', ['nx', 'show', 'projects', '--json']],
  ['format check', ['prettier', '--check', '.']],
  ['lint', ['eslint', '.']],
  ['typecheck', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
]) {
  const status = spawnSync(npx, args, { stdio: what === 'project graph' ? 'ignore' : 'inherit' }).status ?? 1;
  if (status !== 0) {
    console.log(`${what} failed`);
    console.log('Tests: 0 passed, 1 failed');
    process.exit(1);
  }
}

const dir = mkdtempSync(join(tmpdir(), 'lstm-test-report-'));
const report = join(dir, 'vitest.json');
const status = run(npx, [
  'vitest',
  'run',
  '--reporter=default',
  '--reporter=json',
  `--outputFile.json=${report}`,
  ...process.argv.slice(2),
]);
let counts = { passed: 0, failed: status === 0 ? 0 : 1, skipped: 0 };
try {
  const results = JSON.parse(readFileSync(report, 'utf8'));
  counts = {
    passed: results.numPassedTests,
    failed: results.numFailedTests + (status !== 0 && results.numFailedTests === 0 ? 1 : 0),
    skipped: results.numPendingTests + results.numTodoTests,
  };
} catch {
  // No report: vitest failed before running tests; the exit status says so.
}
rmSync(dir, { recursive: true, force: true });
console.log(`Tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
process.exit(status);
