// The short soak (issue 16): a fixed seed's faults of every kind while a small job trains;
// nothing may be lost and the final weights must be those of an undisturbed run. The long
// one is `npm run soak` (docs/operations.md). Its own redis-server (it restarts Redis) and a
// store directory of its own.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatSoakReport } from '@lstm-runner/runner';
import { removeSoakFiles, runSoak } from '../../../test-support/soak-driver';

describe('soak under random faults', () => {
  it('loses nothing and ends with the weights of an undisturbed run', async () => {
    const lines: string[] = [];
    // 80 steps: seed 16 puts its 8 faults (6 kinds) at steps 9 to 40. The undisturbed run needs
    // no slow shards: only the soak's faults must land mid-step.
    const result = await runSoak({
      seed: 16,
      steps: 80,
      workers: 2,
      faults: 8,
      referenceShardDelayMs: 0,
      log: (line) => lines.push(line),
    });
    const { report } = result;
    const explain = `${lines.join('\n')}\n${formatSoakReport(report)}\nlog: ${result.logFile}`;
    expect(report.faultsInjected, explain).toBe(8);
    expect(Object.values(report.faultsByKind).filter((count) => count > 0).length, explain).toBeGreaterThanOrEqual(4);
    expect(report.faultsSurvived, explain).toBe(report.faultsInjected);
    expect(report.completed, explain).toBe(true);
    expect(report.lost, explain).toMatchObject({ total: 0, missingRecords: 0, differentRecords: 0, duplicateRecords: 0 });
    expect(report.weightsIdentical, explain).toBe(true);
    // The faults fired: the processes logged the store errors injected into them.
    if (report.faultsByKind['store-errors'] > 0) expect(report.injectedStoreErrors, explain).toBeGreaterThan(0);
    expect(readFileSync(result.logFile, 'utf8')).toMatch(/job soak-[0-9a-f]+: generation 2,/);
    removeSoakFiles(result);
  });
});
