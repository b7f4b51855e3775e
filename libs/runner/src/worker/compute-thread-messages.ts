// The messages between a worker's main thread and its compute threads, in one place.
import type { GradientJobData, NumericsProfile } from '@lstm-runner/protocol';
import type { BytesMoved } from '../http/metered-store';
import type { ShardComputeResult } from './compute-pool';

/** workerData of a compute thread. */
export interface ComputeThreadOptions {
  readonly storeUrl: string;
  readonly s3Endpoint?: string;
  readonly cacheDir: string;
  /** The bound of cacheDir on disk (LSTM_CACHE_MAX_BYTES). */
  readonly cacheMaxBytes: number;
  readonly profile: NumericsProfile;
  /** Fault injection: every shard of this thread takes this much longer (stragglers). */
  readonly injectedShardDelayMs: number;
  /** Fault injection: a control file ordering delays of the next shards (shard-delay-file.ts). */
  readonly injectedShardDelayFile?: string;
  /** Fault injection: the whole process dies of SIGSEGV when it computes this training shard. */
  readonly injectedCrash?: InjectedCrash;
}

/** A training shard (by step and shard number) whose computation kills its worker process. */
export interface InjectedCrash {
  readonly step: number;
  readonly shard: number;
}

/** Main thread -> compute thread: compute one shard. */
export interface ShardComputeRequest {
  /** Echoed in the reply: a reply is matched to its request, and a late one is dropped. */
  readonly requestId: number;
  readonly task: GradientJobData;
}

/** Segment lookups of a thread's dataset readers, by where the segment came from (see DatasetReader.cacheStats). */
export interface SegmentLookups {
  readonly memory: number;
  readonly disk: number;
  readonly store: number;
}

/**
 * Compute thread -> main thread. A reply carries the store bytes the thread moved and its
 * segment lookups since its last reply (for /metrics).
 */
export type ComputeThreadMessage =
  /** The backend loaded: `description` says what runs the math. */
  | { readonly type: 'ready'; readonly description: string }
  | {
      readonly type: 'result';
      readonly requestId: number;
      readonly result: ShardComputeResult;
      readonly moved?: readonly BytesMoved[];
      readonly lookups?: SegmentLookups;
    }
  | {
      readonly type: 'error';
      readonly requestId: number;
      readonly message: string;
      readonly errorName: string;
      readonly moved?: readonly BytesMoved[];
      readonly lookups?: SegmentLookups;
    };
