// Determinism of the native backend: the same thread count gives bit-identical gradients run
// after run, in a new backend, in another process and in worker threads that load the addon
// at the same time (each with its own thread count); different thread counts agree to float
// tolerance (the thread count is part of the numerics profile).

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { expectClose } from '../../../test-support/backend-conformance';
import { gradientDigest, stepGradient, type DigestWorkloadName } from '../../../test-support/gradient-digest';
import { describeIfAvailable } from '../../../test-support/requirements';
import { nativeAvailability } from './availability';
import { createNativeBackend } from './native-backend';

const describeNative = describeIfAvailable('native', nativeAvailability());
const WORKLOADS: DigestWorkloadName[] = ['charLm', 'timeSeries'];
const ENTRY = fileURLToPath(new URL('../../../test-support/native-digest-entry.mjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

type Digests = Record<string, string>;

async function digestsHere(threads: number): Promise<Digests> {
  const backend = await createNativeBackend({ threads });
  return Object.fromEntries(WORKLOADS.map((workload) => [workload, gradientDigest(backend, workload)]));
}

function digestsInProcess(threads: number): Promise<Digests> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, JSON.stringify({ threads, workloads: WORKLOADS })], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(output) as Digests) : reject(new Error(`digest process exited with ${code}`)),
    );
  });
}

function digestsInThread(threads: number): Promise<Digests> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(ENTRY, { workerData: { threads, workloads: WORKLOADS } });
    worker.once('message', (digests: Digests) => {
      resolve(digests);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describeNative('native backend determinism', () => {
  it.each([1, 2])(
    '%i thread(s): bit-identical gradients run after run, in the same backend, after another shape, and in a new one',
    async (threads) => {
      const backend = await createNativeBackend({ threads });
      for (const workload of WORKLOADS) {
        const first = gradientDigest(backend, workload);
        expect(gradientDigest(backend, workload), workload).toBe(first);
        expect(gradientDigest(await createNativeBackend({ threads }), workload), workload).toBe(first);
      }
      const charLm = gradientDigest(backend, 'charLm');
      gradientDigest(backend, 'timeSeries');
      expect(gradientDigest(backend, 'charLm')).toBe(charLm);
    },
  );

  it('gives the same bits in another process and in two worker threads running at once with 1 and 2 threads', async () => {
    const [one, two] = [await digestsHere(1), await digestsHere(2)];
    const [otherProcess, threadOfOne, threadOfTwo] = await Promise.all([digestsInProcess(2), digestsInThread(1), digestsInThread(2)]);
    expect(otherProcess).toEqual(two);
    expect(threadOfOne).toEqual(one);
    expect(threadOfTwo).toEqual(two);
  });

  it.each(WORKLOADS)('%s: 1 and 2 threads agree to float tolerance', async (workload) => {
    const one = stepGradient(await createNativeBackend({ threads: 1 }), workload);
    const two = stepGradient(await createNativeBackend({ threads: 2 }), workload);
    expect(Math.abs(one.loss - two.loss) / Math.abs(one.loss)).toBeLessThan(1e-6);
    expectClose(one.grads, two.grads, 1e-5, `${workload} gradient`);
  });
});
