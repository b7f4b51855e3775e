// Gradient digests (test-support/gradient-digest.ts) on the native backend, computed in a
// worker thread (workerData, answer posted) or a child process (JSON argument, answer on
// stdout): { threads, workloads } -> { [workload]: digest }. Registers tsx first: neither a
// thread nor `node file.mjs` has the loader hooks that run the TypeScript.
import { parentPort, workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
const { gradientDigest } = await import('./gradient-digest.ts');
const { createNativeBackend } = await import('@lstm-runner/lstm-native');
const { threads, workloads } = parentPort === null ? JSON.parse(process.argv[2]) : workerData;
const backend = await createNativeBackend({ threads });
const digests = Object.fromEntries(workloads.map((workload) => [workload, gradientDigest(backend, workload)]));
if (parentPort === null) console.log(JSON.stringify(digests));
else parentPort.postMessage(digests);
