// Fault injection for the soak and drills (docs/operations.md): stragglers on demand. When
// LSTM_INJECT_SHARD_DELAY_FILE names a file, a worker's compute thread reads it before each
// shard; the file holds an order, {"id": "s7", "delayMs": 4000, "shards": 1}: the next
// `shards` shards this thread starts after it first sees that id take delayMs longer. A driver
// writes a new id (atomically: a temporary file and a rename) for each straggler it wants.
// A missing or empty file delays nothing; an unusable one is said once on stderr and ignored.
import { readFile } from 'node:fs/promises';
import { firstIssue, issueLine, mapping, nonEmptyString, nonNegativeInteger, positiveInteger } from '@lstm-runner/lstm-core';
import type * as z from 'zod';

export interface ShardDelayOrder {
  readonly id: string;
  readonly delayMs: number;
  readonly shards: number;
}

const orderSchema = mapping({
  id: nonEmptyString(),
  delayMs: nonNegativeInteger(),
  shards: positiveInteger(),
}) satisfies z.ZodType<ShardDelayOrder>;

/** The order in the file's text, or a one-line reason why it is unusable. */
export function parseShardDelayOrder(text: string): ShardDelayOrder | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return `not valid JSON (${(error as Error).message})`;
  }
  const parsed = orderSchema.safeParse(value);
  return parsed.success ? parsed.data : issueLine(firstIssue(parsed.error), 'the order').text;
}

export class ShardDelayFile {
  private orderId = '';
  private left = 0;
  private delayMs = 0;
  private reported = '';

  constructor(
    private readonly path: string,
    private readonly warn: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {}

  /** How much longer the shard starting now must take: its share of the latest order. */
  async nextDelayMs(): Promise<number> {
    const text = (await readFile(this.path, 'utf8').catch(() => '')).trim();
    if (text !== '') this.take(text);
    if (this.left === 0) return 0;
    this.left -= 1;
    return this.delayMs;
  }

  private take(text: string): void {
    const order = parseShardDelayOrder(text);
    if (typeof order === 'string') {
      if (this.reported !== text) this.warn(`lstm-shard-delay: ignored ${this.path}: ${order}`);
      this.reported = text;
      return;
    }
    if (order.id === this.orderId) return;
    this.orderId = order.id;
    this.left = order.shards;
    this.delayMs = order.delayMs;
  }
}
