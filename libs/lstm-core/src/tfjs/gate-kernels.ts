// The elementwise gate math of the tfjs LSTM layer, as WebAssembly with 128-bit SIMD.
//
// Why: in JavaScript this math costs 6-9 ns an element (every Float32Array access is a bounds
// check and a float32 <-> float64 conversion), which made it the largest cost of a step after
// the matrix products. As SIMD it costs 1.5-3 ns. tfjs has no kernel that fuses it, and a tfjs
// op per line of math would cost a wasm call each.
//
// The kernels work on one WebAssembly.Memory per workspace (GateWorkspace): the layer keeps
// its activations there, as Float32Array views, so that nothing is copied in or out for them.
// The WebAssembly text is generated below from one body per kernel, written once for a lane
// type and emitted twice: four lanes at a time (f32x4) over the first H - H % 4 columns, then
// one lane (f32) for the rest. It is assembled by wabt when the backend is created.

import initWabt from 'wabt';

/** One lane type of the generated code: `f32x4` (four floats in a v128) or plain `f32`. */
interface Lanes {
  readonly valueType: 'v128' | 'f32';
  readonly op: 'f32x4' | 'f32';
  readonly width: 4 | 1;
  /** The suffix of this lane type's locals, so that both loops can declare theirs. */
  readonly suffix: string;
}

const VECTOR: Lanes = { valueType: 'v128', op: 'f32x4', width: 4, suffix: 'v' };
const SCALAR: Lanes = { valueType: 'f32', op: 'f32', width: 1, suffix: 's' };

/** What a kernel body is written with: arithmetic in the lane type, loads and stores at a row pointer plus a column. */
class Emitter {
  constructor(readonly lanes: Lanes) {}

  constant(value: number): string {
    const scalar = `(f32.const ${value})`;
    return this.lanes.op === 'f32x4' ? `(f32x4.splat ${scalar})` : scalar;
  }

  private op(name: string, ...args: string[]): string {
    return `(${this.lanes.op}.${name} ${args.join(' ')})`;
  }

  add(a: string, b: string): string {
    return this.op('add', a, b);
  }

  sub(a: string, b: string): string {
    return this.op('sub', a, b);
  }

  mul(...factors: string[]): string {
    return factors.reduce((product, factor) => this.op('mul', product, factor));
  }

  /** 1 - a */
  oneMinus(a: string): string {
    return this.sub(this.constant(1), a);
  }

  /** 2^k for k integral in [-126, 127], by building the float's exponent bits. */
  private powerOfTwo(k: string): string {
    return this.lanes.op === 'f32x4'
      ? `(i32x4.shl (i32x4.add (i32x4.trunc_sat_f32x4_s ${k}) (i32x4.splat (i32.const 127))) (i32.const 23))`
      : `(f32.reinterpret_i32 (i32.shl (i32.add (i32.trunc_f32_s ${k}) (i32.const 127)) (i32.const 23)))`;
  }

  /**
   * Statements that set local `into` to sigmoid(x) = 1 / (1 + exp(-x)), using the locals
   * SIGMOID_LOCALS. exp as in Cephes' expf: exp(y) = 2^k exp(r) with k = round(y / ln 2),
   * r = y - k ln 2 (ln 2 in two parts, so r is exact), exp(r) by its degree-7 polynomial;
   * within 2 ulp of exp over the clamped range. -x is clamped to [-87, 88], where 2^k stays a
   * normal float: sigmoid is then 1 (to float precision) or below 1e-38.
   */
  sigmoid(into: string, x: string): string {
    const y = this.get('expY');
    const k = this.get('expK');
    const r = this.get('expR');
    const polynomial = [1.98756915e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]
      .map((c) => this.constant(c))
      .reduce((acc, c) => this.add(this.mul(acc, r), c));
    return `
        ${this.set('expY', this.op('max', this.op('min', this.op('neg', x), this.constant(88)), this.constant(-87)))}
        ${this.set('expK', this.op('nearest', this.mul(y, this.constant(Math.LOG2E))))}
        ${this.set('expR', this.sub(this.sub(y, this.mul(k, this.constant(0.693359375))), this.mul(k, this.constant(-2.1219444e-4))))}
        ${this.set(into, this.op('div', this.constant(1), this.add(this.constant(1), this.mul(this.add(this.add(this.mul(polynomial, r, r), r), this.constant(1)), this.powerOfTwo(k)))))}`;
  }

  /** The address of column j + columnOffset of row pointer `row` (a float index offset, in local $name). */
  private address(row: string, columnOffset: string | null): string {
    const column = columnOffset === null ? '(local.get $j)' : `(i32.add (local.get $j) (local.get $${columnOffset}))`;
    return `(i32.add (local.get $${row}Row) (i32.shl ${column} (i32.const 2)))`;
  }

  load(row: string, columnOffset: string | null = null): string {
    return `(${this.lanes.valueType}.load ${this.address(row, columnOffset)})`;
  }

  store(row: string, value: string, columnOffset: string | null = null): string {
    return `(${this.lanes.valueType}.store ${this.address(row, columnOffset)} ${value})`;
  }

  local(name: string): string {
    return `$${name}_${this.lanes.suffix}`;
  }

  set(name: string, value: string): string {
    return `(local.set ${this.local(name)} ${value})`;
  }

  get(name: string): string {
    return `(local.get ${this.local(name)})`;
  }
}

/** The locals Emitter.sigmoid needs in a kernel's `values`. */
const SIGMOID_LOCALS = ['expY', 'expK', 'expR'] as const;

interface RowKernel {
  readonly name: string;
  /** Arrays (byte offsets into the memory) walked row by row: each has a row stride in floats. */
  readonly arrays: readonly string[];
  /** The lane-typed locals the body uses. */
  readonly values: readonly string[];
  /** One column group's work; j is the column, $H the row length, $H2/$H3 its multiples. */
  readonly body: (e: Emitter) => string;
}

/**
 * A kernel over B rows of H columns: (param ptr stride) per array, then $B and $H. Row
 * pointers advance by their stride each row; within a row, columns go four at a time, then
 * one at a time.
 */
function rowKernelText(kernel: RowKernel): string {
  const params = kernel.arrays.map((a) => `(param $${a} i32) (param $${a}Stride i32)`).join(' ');
  const rowLocals = kernel.arrays.map((a) => `(local $${a}Row i32)`).join(' ');
  const valueLocals = [VECTOR, SCALAR]
    .flatMap((lanes) => kernel.values.map((v) => `(local $${v}_${lanes.suffix} ${lanes.valueType})`))
    .join(' ');
  const rowPointers = kernel.arrays
    .map((a) => `(local.set $${a}Row (i32.add (local.get $${a}) (i32.shl (i32.mul (local.get $b) (local.get $${a}Stride)) (i32.const 2))))`)
    .join('\n      ');
  const columns = (lanes: Lanes, end: string): string => `
      (block $done_${lanes.suffix} (loop $columns_${lanes.suffix}
        (br_if $done_${lanes.suffix} (i32.gt_s (i32.add (local.get $j) (i32.const ${lanes.width})) ${end}))
        ${kernel.body(new Emitter(lanes))}
        (local.set $j (i32.add (local.get $j) (i32.const ${lanes.width})))
        (br $columns_${lanes.suffix})))`;
  return `
  (func (export "${kernel.name}") ${params} (param $B i32) (param $H i32)
    (local $b i32) (local $j i32) (local $H2 i32) (local $H3 i32) ${rowLocals} ${valueLocals}
    (local.set $H2 (i32.shl (local.get $H) (i32.const 1)))
    (local.set $H3 (i32.add (local.get $H2) (local.get $H)))
    (block $rowsDone (loop $rows
      (br_if $rowsDone (i32.ge_u (local.get $b) (local.get $B)))
      ${rowPointers}
      (local.set $j (i32.const 0))
      ${columns(VECTOR, '(local.get $H)')}
      ${columns(SCALAR, '(local.get $H)')}
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (br $rows)))
  )`;
}

// Gate activations are [B,4H] rows of sigmoid(z_i), sigmoid(z_f), sigmoid(2 z_c), sigmoid(z_o):
// g = tanh(z_c) = 2 sigmoid(2 z_c) - 1. Cells are kept doubled (2 c), see lstm-layer.ts.
const KERNELS: readonly RowKernel[] = [
  {
    // One forward step after the gates: 2 c_t = f (2 c_{t-1}) + 2 i g;
    // tanh(c_t) = 2 sigmoid(2 c_t) - 1; h_t = o tanh(c_t).
    name: 'forwardStep',
    arrays: ['gates', 'previousCells', 'cells', 'cellTanh', 'hidden'],
    values: ['g', 'cell', 'cellSigmoid', 'tanhC', ...SIGMOID_LOCALS],
    body: (e) => `
        ${e.set('g', e.sub(e.mul(e.constant(2), e.load('gates', 'H2')), e.constant(1)))}
        ${e.set('cell', e.add(e.mul(e.load('gates', 'H'), e.load('previousCells')), e.mul(e.constant(2), e.load('gates'), e.get('g'))))}
        ${e.store('cells', e.get('cell'))}
        ${e.sigmoid('cellSigmoid', e.get('cell'))}
        ${e.set('tanhC', e.sub(e.mul(e.constant(2), e.get('cellSigmoid')), e.constant(1)))}
        ${e.store('cellTanh', e.get('tanhC'))}
        ${e.store('hidden', e.mul(e.load('gates', 'H3'), e.get('tanhC')))}`,
  },
  {
    // One step of BPTT: dh = dHidden_t + dh from step t+1; dc = dc_{t+1} f_{t+1} + dh o (1 - tanh^2 c);
    // the gate pre-activation gradients into dPre; dCell becomes dc f (for step t-1).
    name: 'gateGradients',
    arrays: ['gates', 'cellTanh', 'previousCells', 'dHidden', 'dHiddenNext', 'dCell', 'dPre'],
    values: ['dh', 'i', 'f', 'g', 'o', 'tanhC', 'dc'],
    body: (e) => `
        ${e.set('dh', e.add(e.load('dHidden'), e.load('dHiddenNext')))}
        ${e.set('i', e.load('gates'))}
        ${e.set('f', e.load('gates', 'H'))}
        ${e.set('g', e.sub(e.mul(e.constant(2), e.load('gates', 'H2')), e.constant(1)))}
        ${e.set('o', e.load('gates', 'H3'))}
        ${e.set('tanhC', e.load('cellTanh'))}
        ${e.set('dc', e.add(e.load('dCell'), e.mul(e.get('dh'), e.get('o'), e.oneMinus(e.mul(e.get('tanhC'), e.get('tanhC'))))))}
        ${e.store('dCell', e.mul(e.get('dc'), e.get('f')))}
        ${e.store('dPre', e.mul(e.get('dc'), e.get('g'), e.get('i'), e.oneMinus(e.get('i'))))}
        ${e.store('dPre', e.mul(e.get('dc'), e.mul(e.constant(0.5), e.load('previousCells')), e.get('f'), e.oneMinus(e.get('f'))), 'H')}
        ${e.store('dPre', e.mul(e.get('dc'), e.get('i'), e.oneMinus(e.mul(e.get('g'), e.get('g')))), 'H2')}
        ${e.store('dPre', e.mul(e.get('dh'), e.get('tanhC'), e.get('o'), e.oneMinus(e.get('o'))), 'H3')}`,
  },
];

// a [rows, cols] -> a^T as a [cols, rows] block of `into` (rows `stride` floats long, the
// block starting at column `first`). Column by column of a, so that the writes run along the
// rows of `into` and the strided reads stay within a's cached block. Plain f32: the strided
// reads rule out vectors, but wasm still does this at a third of the cost of JS.
const TRANSPOSE_TEXT = `
  (func (export "transposeInto") (param $a i32) (param $rows i32) (param $cols i32) (param $into i32) (param $stride i32) (param $first i32)
    (local $c i32) (local $r i32) (local $from i32) (local $to i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (block $columnsDone (loop $columns
      (br_if $columnsDone (i32.ge_u (local.get $c) (local.get $cols)))
      (local.set $from (i32.add (local.get $a) (i32.shl (local.get $c) (i32.const 2))))
      (local.set $to (i32.add (local.get $into) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $stride)) (local.get $first)) (i32.const 2))))
      (local.set $r (i32.const 0))
      (block $rowsDone (loop $rowLoop
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (f32.store (local.get $to) (f32.load (local.get $from)))
        (local.set $from (i32.add (local.get $from) (local.get $rowBytes)))
        (local.set $to (i32.add (local.get $to) (i32.const 4)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowLoop)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $columns)))
  )`;

export function gateKernelsText(): string {
  return `(module\n  (import "env" "memory" (memory 1))${KERNELS.map(rowKernelText).join('\n')}${TRANSPOSE_TEXT}\n)\n`;
}

let compiled: Promise<WebAssembly.Module> | null = null;

/** The kernels' module, assembled and compiled once per process. */
export function loadGateKernels(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    const wabt = await initWabt();
    const parsed = wabt.parseWat('gate-kernels.wat', gateKernelsText(), { simd: true });
    try {
      parsed.validate();
      return new WebAssembly.Module(parsed.toBinary({}).buffer);
    } finally {
      parsed.destroy();
    }
  })();
  return compiled;
}

/** A view of the workspace's memory with the row stride the kernels walk it by. */
export interface Rows {
  readonly view: Float32Array;
  /** Floats from one row to the next. */
  readonly stride: number;
}

type KernelFunction = (...args: number[]) => void;

/** Bytes a view of `length` floats takes in a workspace: rounded up to 16 for aligned SIMD rows. */
function viewBytes(length: number): number {
  return Math.ceil(length / 4) * 16;
}

/**
 * One WebAssembly.Memory holding the Float32Arrays a layer's forward and backward share, and
 * the kernels bound to it. Views are carved out of a size fixed at creation (growing the
 * memory would detach them) and are not zeroed: callers clear what they read before writing.
 */
export class GateWorkspace {
  private readonly memory: WebAssembly.Memory;
  private readonly kernels: Record<'forwardStep' | 'gateGradients' | 'transposeInto', KernelFunction>;
  private nextByte = 0;

  constructor(
    module: WebAssembly.Module,
    /** Bytes the views will take: GateWorkspace.bytesFor their lengths. */
    readonly capacity: number,
  ) {
    this.memory = new WebAssembly.Memory({ initial: Math.max(1, Math.ceil(capacity / 65536)) });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.kernels = instance.exports as unknown as GateWorkspace['kernels'];
  }

  /** The capacity views of these lengths need. */
  static bytesFor(lengths: readonly number[]): number {
    return lengths.reduce((sum, length) => sum + viewBytes(length), 0);
  }

  /** A view of `length` floats, holding whatever an earlier user left there. */
  floats(length: number): Float32Array {
    const bytes = viewBytes(length);
    if (this.nextByte + bytes > this.capacity)
      throw new RangeError(`gate workspace: ${length} more floats do not fit in ${this.capacity} bytes`);
    const view = new Float32Array(this.memory.buffer, this.nextByte, length);
    this.nextByte += bytes;
    return view;
  }

  /** Takes all views back; what they hold will be overwritten by the next user. */
  reset(): void {
    this.nextByte = 0;
  }

  private pointer(kernel: string, view: Float32Array): number {
    if (view.buffer !== this.memory.buffer) throw new TypeError(`gate workspace: ${kernel} was given a view of another memory`);
    return view.byteOffset;
  }

  private run(kernel: 'forwardStep' | 'gateGradients', arrays: readonly Rows[], B: number, H: number): void {
    const args: number[] = [];
    for (const { view, stride } of arrays) args.push(this.pointer(kernel, view), stride);
    this.kernels[kernel](...args, B, H);
  }

  /** a [rows, cols] -> a^T into columns first..first+rows-1 of into [cols, stride]. */
  transposeInto(a: Float32Array, rows: number, cols: number, into: Float32Array, stride: number, first: number): void {
    if (a.length < rows * cols || into.length < (cols - 1) * stride + first + rows)
      throw new RangeError('gate workspace: transposeInto out of bounds');
    this.kernels.transposeInto(this.pointer('transposeInto', a), rows, cols, this.pointer('transposeInto', into), stride, first);
  }
  /** gates [B,4H], previousCells (2 c_{t-1}) [B,H] -> cells (2 c_t), cellTanh (tanh c_t), hidden (h_t), each [B,H]. */
  forwardStep(gates: Rows, previousCells: Rows, cells: Rows, cellTanh: Rows, hidden: Rows, B: number, H: number): void {
    this.run('forwardStep', [gates, previousCells, cells, cellTanh, hidden], B, H);
  }

  /**
   * gates [B,4H], cellTanh [B,H], previousCells (2 c_{t-1}) [B,H], dHidden [B,H] (the loss
   * gradient at t), dHiddenNext [B,H] (from step t+1) -> dPre [B,4H]; dCell [B,H] in: dc
   * from step t+1 times f_{t+1}, out: dc_t f_t.
   */
  gateGradients(
    gates: Rows,
    cellTanh: Rows,
    previousCells: Rows,
    dHidden: Rows,
    dHiddenNext: Rows,
    dCell: Rows,
    dPre: Rows,
    B: number,
    H: number,
  ): void {
    this.run('gateGradients', [gates, cellTanh, previousCells, dHidden, dHiddenNext, dCell, dPre], B, H);
  }
}

/**
 * Workspaces handed back by layers, reused by the next forward: a training step's buffers
 * are the same size every step, and fresh ones would cost their zeroing and the garbage
 * collector's time.
 */
export class GateWorkspacePool {
  private readonly idle: GateWorkspace[] = [];

  constructor(
    private readonly module: WebAssembly.Module,
    /** Idle workspaces kept at most; the oldest go first. */
    private readonly maxIdle = 8,
  ) {}

  bytesFor(lengths: readonly number[]): number {
    return GateWorkspace.bytesFor(lengths);
  }

  /** The smallest idle workspace of at least `bytes`, or a new one of exactly that. */
  acquire(bytes: number): GateWorkspace {
    let best = -1;
    this.idle.forEach((workspace, n) => {
      if (workspace.capacity >= bytes && (best < 0 || workspace.capacity < this.idle[best]!.capacity)) best = n;
    });
    if (best < 0) return new GateWorkspace(this.module, bytes);
    return this.idle.splice(best, 1)[0]!;
  }

  release(workspace: GateWorkspace): void {
    workspace.reset();
    this.idle.push(workspace);
    if (this.idle.length > this.maxIdle) this.idle.shift();
  }
}
