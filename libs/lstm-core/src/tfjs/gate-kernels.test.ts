// The gate kernels' own plumbing; their math is proven through the tfjs LSTM layer's tests
// against the reference backend (lstm-layer.test.ts), on widths that take the vector loop,
// the scalar tail, or both.

import { beforeAll, describe, expect, it } from 'vitest';
import { GateWorkspace, GateWorkspacePool, gateKernelsText, loadGateKernels } from './gate-kernels';
import { transposed } from './tensor-io';

describe('gate kernels', () => {
  let module: WebAssembly.Module;
  beforeAll(async () => {
    module = await loadGateKernels();
  });

  it('generates one vector and one scalar loop per elementwise kernel', () => {
    const text = gateKernelsText();
    for (const name of ['cellStep', 'hiddenStep', 'gateGradients', 'transposeInto']) expect(text).toContain(`(export "${name}")`);
    expect(text.match(/\$columns_v/g)?.length).toBe(2 * 3);
    expect(text.match(/\$columns_s/g)?.length).toBe(2 * 3);
  });

  it.each([
    [1, 1],
    [3, 5],
    [7, 4],
    [16, 9],
  ])('transposes a %i x %i block into the columns of a wider matrix, leaving the rest alone', (rows, cols) => {
    const stride = rows + 5;
    const first = 3;
    const workspace = new GateWorkspace(module, GateWorkspace.bytesFor([rows * cols, cols * stride]));
    const a = workspace.floats(rows * cols);
    const into = workspace.floats(cols * stride);
    a.forEach((_, k) => (a[k] = k + 1));
    into.fill(-1);
    workspace.transposeInto(a, rows, cols, into, stride, first);
    const expected = transposed(a.slice(), rows, cols);
    for (let c = 0; c < cols; c++) {
      for (let k = 0; k < stride; k++) {
        const inBlock = k >= first && k < first + rows;
        expect(into[c * stride + k]).toBe(inBlock ? expected[c * rows + k - first] : -1);
      }
    }
  });

  it('refuses views of another memory and views past its capacity', () => {
    const workspace = new GateWorkspace(module, GateWorkspace.bytesFor([8]));
    const own = workspace.floats(8);
    expect(() => workspace.floats(1)).toThrow(RangeError);
    expect(() => workspace.transposeInto(new Float32Array(8), 2, 4, own, 2, 0)).toThrow(/another memory/);
  });

  it('pools workspaces: the smallest idle one that fits is reused, views carved afresh', () => {
    const pool = new GateWorkspacePool(module, 2);
    const small = pool.acquire(1024);
    const large = pool.acquire(4096);
    small.floats(256);
    pool.release(large);
    pool.release(small);
    expect(pool.acquire(512)).toBe(small);
    expect(small.floats(256).byteOffset).toBe(0);
    expect(pool.acquire(2048)).toBe(large);
    expect(pool.acquire(8192)).not.toBe(large);
  });
});
