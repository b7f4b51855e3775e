// What the HTTP port of each service says: a worker is ready when Redis and the store answer
// and its backend has loaded; the coordinator service when Redis and the store answer. The
// coordinator also serves /scaling, the worker count its running jobs want, for autoscalers.
import { openStore, type ObjectStore } from '@lstm-runner/storage';
import type { Registry } from 'prom-client';
import { whyRedisUnreachable } from '../redis/redis-connection';
import { ClusterReader } from '../operations/cluster-reader';
import type { CoordinatorService } from '../operations/coordinator-service';
import type { GradientWorker } from '../worker/gradient-worker';
import type { CoordinatorMetrics, WorkerMetrics } from './runner-metrics';
import { DEFAULT_ENDPOINT_HOST, ServiceEndpoints } from './service-endpoints';

export interface ServedEndpoints {
  readonly port: number;
  close(): Promise<void>;
}

const PROBE_TIMEOUT_MS = 2_000;

/** Null when the store answers a listing within the probe's time, else why not. */
async function whyStoreUnreachable(store: ObjectStore): Promise<string | null> {
  const timeout = new Promise<string>((resolve) =>
    setTimeout(() => resolve(`no answer within ${PROBE_TIMEOUT_MS} ms`), PROBE_TIMEOUT_MS).unref(),
  );
  const probe = store.head('readiness-probe').then(
    () => null,
    (error: unknown) => (error as Error).message.split('\n')[0] ?? 'error',
  );
  return Promise.race([probe, timeout]);
}

async function serve(
  port: number,
  ready: () => Promise<string | null>,
  metrics: { readonly registry: Registry },
  json: Record<string, () => Promise<unknown>>,
  cleanup: () => Promise<void>,
): Promise<ServedEndpoints> {
  const endpoints = new ServiceEndpoints({ port, host: DEFAULT_ENDPOINT_HOST, ready, metrics: metrics.registry, json });
  const actual = await endpoints.start();
  return {
    port: actual,
    close: async () => {
      await endpoints.close();
      await cleanup();
    },
  };
}

export async function serveWorkerEndpoints(
  port: number,
  worker: GradientWorker,
  storeUrl: string,
  s3Endpoint: string | undefined,
  redisUrl: string,
  metrics: WorkerMetrics,
  prefix: string,
): Promise<ServedEndpoints> {
  const store = openStore(storeUrl, { endpoint: s3Endpoint, attempts: 1, timeoutMs: PROBE_TIMEOUT_MS });
  // A worker reports the depth of its own queue only: summed over workers it would count many times.
  const depths = new ClusterReader(redisUrl, prefix);
  metrics.observeQueues(() => depths.depths([worker.announcement().profile], false));
  const ready = async (): Promise<string | null> => {
    const redis = await whyRedisUnreachable(redisUrl, PROBE_TIMEOUT_MS);
    if (redis !== null) return `Redis: ${redis}`;
    const stored = await whyStoreUnreachable(store);
    if (stored !== null) return `store: ${stored}`;
    return worker.started ? null : 'the compute backend is still loading';
  };
  return serve(port, ready, metrics, {}, async () => {
    await depths.close();
    await store.close();
  });
}

export async function serveCoordinatorEndpoints(
  port: number,
  service: CoordinatorService,
  store: ObjectStore,
  redisUrl: string,
  metrics: CoordinatorMetrics,
): Promise<ServedEndpoints> {
  const ready = async (): Promise<string | null> => {
    const redis = await whyRedisUnreachable(redisUrl, PROBE_TIMEOUT_MS);
    if (redis !== null) return `Redis: ${redis}`;
    const stored = await whyStoreUnreachable(store);
    return stored === null ? null : `store: ${stored}`;
  };
  return serve(port, ready, metrics, { '/scaling': () => Promise.resolve(service.scaling()) }, () => Promise.resolve());
}
