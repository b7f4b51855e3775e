// A compute thread for ComputePool tests: answers shard requests like the real one, but dies
// on the shards it is told to (workerData.dieOn: shard -> 'throw' | 'exit'), and answers
// shard 99 twice (a late reply).
import { parentPort, workerData } from 'node:worker_threads';

parentPort.postMessage({ type: 'ready', description: `test thread ${workerData.generation ?? ''}` });
parentPort.on('message', (request) => {
  const how = workerData.dieOn?.[request.task.shard];
  if (how === 'exit') process.exit(7);
  if (how === 'throw')
    setTimeout(() => {
      throw new Error(`shard ${request.task.shard} crashed the thread`);
    });
  else {
    const result = { kind: 'validate', loss: request.task.shard, count: 1, computeMs: 0 };
    parentPort.postMessage({ type: 'result', requestId: request.requestId, result });
    if (request.task.shard === 99)
      parentPort.postMessage({ type: 'result', requestId: request.requestId, result: { ...result, loss: -1 } });
  }
});
