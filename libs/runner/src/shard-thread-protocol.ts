// Messages between the worker's main thread and its compute threads.
import type { GradientJobData, GradientJobResult, NumericsProfile } from '@lstm-runner/protocol';

export interface ShardThreadOptions {
  readonly storeUrl: string;
  readonly s3Endpoint?: string;
  readonly cacheDir: string;
  readonly profile: NumericsProfile;
}

export interface ShardComputeRequest {
  readonly requestId: number;
  readonly task: GradientJobData;
}

export type ShardComputeResponse =
  | ({ readonly ok: true; readonly requestId: number } & GradientJobResult)
  | { readonly ok: false; readonly requestId: number; readonly error: string; readonly errorName: string };
