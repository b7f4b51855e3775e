// What every benchmark shares: its flags, the median it reports and where its figures go. Each run
// writes bench/results/<name>.json (the latest, which docs/benchmarks.md quotes) and a dated
// copy, <name>-<yyyy-mm-dd>.json, so that the figures of every run stay in the repository.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_DIR = join(import.meta.dirname, 'results');

/** The median; for an even count the mean of the two middle values. NaN for no values. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Writes the figures as results/<name>.json and results/<name>-<date>.json; returns both paths. */
export function writeBenchResults(name: string, figures: unknown, date = new Date()): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const text = `${JSON.stringify(figures, null, 2)}\n`;
  const paths = [join(RESULTS_DIR, `${name}.json`), join(RESULTS_DIR, `${name}-${date.toISOString().slice(0, 10)}.json`)];
  for (const path of paths) writeFileSync(path, text);
  console.log(`wrote ${paths.join(' and ')}`);
  return paths;
}

/** The value after `--name` on the command line, if given. */
export function benchFlag(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
