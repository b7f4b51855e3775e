// Messages between the worker's main thread and its compute threads.
import type { NumericsProfile } from '@lstm-runner/protocol';

export interface ShardThreadOptions {
  readonly storeUrl: string;
  readonly s3Endpoint?: string;
  readonly cacheDir: string;
  readonly profile: NumericsProfile;
}

/** One shard to compute: what the BullMQ job carries. */
export interface ShardTaskData {
  readonly jobId: string;
  readonly generation: number;
  readonly step: number;
  readonly epoch: number;
  readonly stepInEpoch: number;
  readonly shard: number;
  readonly kind: 'train' | 'validate';
  readonly weightsKey: string;
  readonly weightsSha256: string;
}

export interface ShardComputeRequest {
  readonly requestId: number;
  readonly task: ShardTaskData;
}

/** The shard's result: small, BullMQ stores it as JSON. */
export interface ShardResult {
  /** Present for training shards. */
  readonly gradientKey?: string;
  readonly gradientSha256?: string;
  /** Summed over the shard's windows. */
  readonly loss: number;
  readonly count: number;
}

export type ShardComputeResponse =
  | ({ readonly ok: true; readonly requestId: number } & ShardResult)
  | { readonly ok: false; readonly requestId: number; readonly error: string; readonly errorName: string };
