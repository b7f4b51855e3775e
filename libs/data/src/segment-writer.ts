// Cuts a stream of fixed-size rows into segments of `rowsPerSegment` rows, hashes each and
// writes it to the store as soon as it is full, so prepare holds at most one segment.
import { createHash } from 'node:crypto';
import type { ObjectStore } from '@lstm-runner/storage';
import { datasetPrefix, datasetSegmentName, type SegmentEntry } from './manifest';

export class SegmentWriter {
  readonly segments: SegmentEntry[] = [];
  private readonly buffer: Uint8Array;
  private filled = 0;
  private startRow = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly datasetId: string,
    private readonly rowBytes: number,
    rowsPerSegment: number,
    totalRows: number,
  ) {
    // A small dataset needs no full-size buffer: it is one segment of totalRows rows.
    this.buffer = new Uint8Array(Math.min(rowsPerSegment, totalRows) * rowBytes);
  }

  /** Appends whole rows. */
  async write(rows: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < rows.byteLength) {
      const n = Math.min(rows.byteLength - offset, this.buffer.byteLength - this.filled);
      this.buffer.set(rows.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.buffer.byteLength) await this.flush();
    }
  }

  /** Writes the last, partial segment; returns the segment list. */
  async finish(): Promise<SegmentEntry[]> {
    if (this.filled > 0) await this.flush();
    return this.segments;
  }

  private async flush(): Promise<void> {
    const body = this.buffer.subarray(0, this.filled);
    const name = datasetSegmentName(this.segments.length);
    const sha256 = createHash('sha256').update(body).digest('hex');
    await this.store.put(`${datasetPrefix(this.datasetId)}${name}`, body);
    const rows = this.filled / this.rowBytes;
    this.segments.push({ name, bytes: this.filled, startRow: this.startRow, rows, sha256 });
    this.startRow += rows;
    this.filled = 0;
  }
}
