/**
 * The LSTM workspaces a training forward hands to its backward (oneDNN's workspace plus copies
 * of the layer's input and hidden states: 126 MB for the char-LM layer), reused from step to
 * step: a fresh buffer of that size costs its page faults again (tens of milliseconds). A
 * pool keeps at most the buffers that were in use at once (one per layer of a model), of
 * the sizes last asked for: a size it does not hold means the batch shape changed, and the
 * free buffers of the old shapes are dropped.
 */
export class WorkspacePool {
  private readonly free: ArrayBuffer[] = [];

  acquire(bytes: number): ArrayBuffer {
    const at = this.free.findIndex((buffer) => buffer.byteLength === bytes);
    if (at >= 0) return this.free.splice(at, 1)[0]!;
    this.free.length = 0;
    return new ArrayBuffer(bytes);
  }

  release(buffer: ArrayBuffer): void {
    this.free.push(buffer);
  }

  /** Bytes held by free buffers. */
  get freeBytes(): number {
    return this.free.reduce((sum, buffer) => sum + buffer.byteLength, 0);
  }

  clear(): void {
    this.free.length = 0;
  }
}
