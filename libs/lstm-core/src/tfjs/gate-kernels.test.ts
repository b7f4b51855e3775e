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
    for (const name of ['forwardStep', 'gateGradients', 'transposeInto']) expect(text).toContain(`(export "${name}")`);
    expect(text.match(/\$columns_v/g)?.length).toBe(2 * 2);
    expect(text.match(/\$columns_s/g)?.length).toBe(2 * 2);
  });

  it('computes tanh(c) to within 2 ulp of 1 of the float64 value, from -1e4 to 1e4 and at 0, in both lane types', () => {
    const B = 401;
    const H = 5; // four vector lanes and a scalar tail per row
    const workspace = new GateWorkspace(module, GateWorkspace.bytesFor([B * 4 * H, B * H, B * H, B * H, B * H]));
    const gates = workspace.floats(B * 4 * H);
    const previousCells = workspace.floats(B * H);
    const [cells, cellTanh, hidden] = [workspace.floats(B * H), workspace.floats(B * H), workspace.floats(B * H)];
    // i = 1/2, f = 1, g = 0 (sigmoid(2 z_c) = 1/2), o = 3/4: 2 c_t = 2 c_{t-1} exactly.
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const row = b * 4 * H;
        [gates[row + j], gates[row + H + j], gates[row + 2 * H + j], gates[row + 3 * H + j]] = [0.5, 1, 0.5, 0.75];
        // Doubled cells from -1e4 to 1e4, dense around 0 where tanh is steep.
        const u = (b - 200) / 200 + j * 1e-3;
        previousCells[b * H + j] = Math.sign(u) * 1e4 * u * u * u * u;
      }
    }
    previousCells[0] = 0;
    const rowsOf = (view: Float32Array, stride: number) => ({ view, stride });
    workspace.forwardStep(rowsOf(gates, 4 * H), rowsOf(previousCells, H), rowsOf(cells, H), rowsOf(cellTanh, H), rowsOf(hidden, H), B, H);
    let worst = 0;
    for (let k = 0; k < B * H; k++) {
      expect(cells[k]).toBe(previousCells[k]);
      const expected = Math.tanh(cells[k]! / 2);
      worst = Math.max(worst, Math.abs(cellTanh[k]! - expected));
      expect(hidden[k]).toBe(Math.fround(0.75 * cellTanh[k]!));
    }
    expect(cellTanh[0]).toBe(0);
    expect(worst).toBeLessThan(2 * 2 ** -23); // ulp(1) = 2^-23
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
