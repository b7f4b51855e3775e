// A compute thread of the worker: loads the profile's backend, then answers shard requests
// one at a time (see compute-thread-messages.ts).
import { parentPort, workerData } from 'node:worker_threads';
import { loadComputeBackend } from '@lstm-runner/backends';
import { openStore } from '@lstm-runner/storage';
import { BytesMovedTally, meteredStore } from '../http/metered-store';
import type { ComputeThreadMessage, ComputeThreadOptions, ShardComputeRequest } from './compute-thread-messages';
import { ShardComputer } from './shard-computer';
import { ShardDelayFile } from './shard-delay-file';

async function main(): Promise<void> {
  const options = workerData as ComputeThreadOptions;
  const port = parentPort!;
  const reply = (message: ComputeThreadMessage): void => port.postMessage(message);
  const moved = new BytesMovedTally();
  const store = meteredStore(
    openStore(options.storeUrl, options.s3Endpoint === undefined ? {} : { endpoint: options.s3Endpoint }),
    (bytes) => moved.add(bytes),
  );
  const loaded = await loadComputeBackend(options.profile.backend);
  const computer = new ShardComputer(store, loaded.backend, options.cacheDir, options.cacheMaxBytes);
  const delays = options.injectedShardDelayFile === undefined ? undefined : new ShardDelayFile(options.injectedShardDelayFile);
  reply({ type: 'ready', description: loaded.summary });
  port.on('message', (request: ShardComputeRequest) => {
    void (async () => {
      try {
        const crash = options.injectedCrash;
        if (
          crash !== undefined &&
          request.task.kind === 'train' &&
          request.task.step === crash.step &&
          request.task.shard === crash.shard
        ) {
          // What a crash in native code does: the whole worker process dies at once.
          process.kill(process.pid, 'SIGSEGV');
        }
        const delayMs = options.injectedShardDelayMs + ((await delays?.nextDelayMs()) ?? 0);
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        const result = await computer.compute(request.task);
        reply({ type: 'result', requestId: request.requestId, result, moved: moved.take(), lookups: computer.takeSegmentLookups() });
      } catch (error) {
        const err = error instanceof Error ? error : new Error(String(error));
        const lookups = computer.takeSegmentLookups();
        reply({ type: 'error', requestId: request.requestId, message: err.message, errorName: err.name, moved: moved.take(), lookups });
      }
    })();
  });
}

await main();
