// An ObjectStore that counts the bytes of gradients, weight versions, checkpoints and dataset
// segments read and written through it, for /metrics. JSON records (pointers, metrics,
// manifests of datasets) are small and not counted; the kinds are few, so labels stay bounded.
import { parseStoreKey } from '@lstm-runner/protocol';
import type { ObjectStore } from '@lstm-runner/storage';

export const MOVED_KINDS = ['gradient', 'weights', 'checkpoint', 'dataset'] as const;
export type MovedKind = (typeof MOVED_KINDS)[number];
export type MoveDirection = 'read' | 'written';

/** Bytes of one kind moved in one direction. */
export interface BytesMoved {
  readonly kind: MovedKind;
  readonly direction: MoveDirection;
  readonly bytes: number;
}

/** What a key holds, for counting, or null for keys that are not counted. */
export function movedKindOf(key: string): MovedKind | null {
  switch (parseStoreKey(key)?.kind) {
    case 'gradient':
    case 'reducedGradient':
      return 'gradient';
    case 'weights':
      return 'weights';
    case 'checkpoint':
      return 'checkpoint';
    case 'datasetSegment':
      return 'dataset';
    default:
      return null;
  }
}

/** The store, with every counted read and write reported to `count` after it succeeded. */
export function meteredStore(store: ObjectStore, count: (moved: BytesMoved) => void): ObjectStore {
  const counted = (key: string, direction: MoveDirection, bytes: number): void => {
    const kind = movedKindOf(key);
    if (kind !== null && bytes > 0) count({ kind, direction, bytes });
  };
  return {
    get url() {
      return store.url;
    },
    async get(key) {
      const body = await store.get(key);
      counted(key, 'read', body.byteLength);
      return body;
    },
    async getRange(key, start, end) {
      const body = await store.getRange(key, start, end);
      counted(key, 'read', body.byteLength);
      return body;
    },
    async put(key, body) {
      await store.put(key, body);
      counted(key, 'written', typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    },
    async getVersioned(key) {
      const found = await store.getVersioned(key);
      if (found !== null) counted(key, 'read', found.body.byteLength);
      return found;
    },
    async putIfVersion(key, body, expected) {
      const written = await store.putIfVersion(key, body, expected);
      if (written) counted(key, 'written', typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
      return written;
    },
    head: (key) => store.head(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
    close: () => store.close(),
  };
}

/** Sums reports by kind and direction until taken: what a compute thread hands back with each reply. */
export class BytesMovedTally {
  private readonly sums = new Map<string, BytesMoved>();

  add(moved: BytesMoved): void {
    const key = `${moved.kind}/${moved.direction}`;
    const bytes = (this.sums.get(key)?.bytes ?? 0) + moved.bytes;
    this.sums.set(key, { ...moved, bytes });
  }

  /** The sums so far, and a fresh start. */
  take(): BytesMoved[] {
    const taken = [...this.sums.values()];
    this.sums.clear();
    return taken;
  }
}
