// Optimizers on flat parameter arrays, with the update rules of Keras 3 so that runs match
// Keras: SGD with momentum and Adam (beta1 0.9, beta2 0.999, epsilon 1e-7). The state is
// plain data (step count, hyperparameters, Float32Array buffers in the parameter layout) that
// serializes to a small binary format; a restored optimizer continues bit-identically,
// because every update is a pure function of (state, params, grads) computed in float64
// and stored in float32.

import type { FloatArray } from './backend';
import { OptimizerStateError } from './errors/optimizer-state-error';

export type OptimizerConfig =
  | { readonly type: 'sgd'; readonly learningRate: number; readonly momentum?: number }
  | {
      readonly type: 'adam';
      readonly learningRate: number;
      readonly beta1?: number;
      readonly beta2?: number;
      readonly epsilon?: number;
    };

export interface SgdHyperparameters {
  readonly learningRate: number;
  readonly momentum: number;
}

export interface AdamHyperparameters {
  readonly learningRate: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
}

export type OptimizerState =
  | {
      readonly type: 'sgd';
      /** Updates applied so far. */
      readonly step: number;
      readonly hyperparameters: SgdHyperparameters;
      readonly buffers: { readonly velocity: Float32Array };
    }
  | {
      readonly type: 'adam';
      readonly step: number;
      readonly hyperparameters: AdamHyperparameters;
      /** First and second moment estimates. */
      readonly buffers: { readonly m: Float32Array; readonly v: Float32Array };
    };

export interface Optimizer {
  readonly type: OptimizerState['type'];
  /** Updates applied so far. */
  readonly step: number;
  /**
   * params [n] -= update(grads [n]); grads are already averaged and clipped. `learningRate`
   * is this update's rate when a schedule sets it (scheduledLearningRate); default the
   * optimizer's own.
   */
  apply(params: FloatArray, grads: FloatArray, learningRate?: number): void;
  /** A copy of the state, safe to keep while the optimizer goes on. */
  exportState(): OptimizerState;
}

/**
 * An optimizer for `parameterCount` parameters; from `state` when resuming. The state must
 * be of the same type, size and hyperparameters as the config: a resume that silently
 * changed them would not be the run it claims to continue.
 */
export function createOptimizer(config: OptimizerConfig, parameterCount: number, state?: OptimizerState): Optimizer {
  if (!Number.isSafeInteger(parameterCount) || parameterCount < 0)
    throw new RangeError(`parameterCount must be a non-negative integer, got ${parameterCount}`);
  const hyperparameters = resolveHyperparameters(config);
  const restored = state ? checkedState(state, config.type, hyperparameters, parameterCount) : null;
  let step = restored?.step ?? 0;
  const buffer = (name: string): Float32Array => {
    const stored = restored?.buffers[name];
    return stored ? Float32Array.from(stored) : new Float32Array(parameterCount);
  };
  const checkSizes = (params: FloatArray, grads: FloatArray): void => {
    if (params.length !== parameterCount || grads.length !== parameterCount) {
      throw new RangeError(`optimizer for ${parameterCount} parameters got params of ${params.length} and grads of ${grads.length}`);
    }
  };

  if (config.type === 'sgd') {
    const { learningRate, momentum } = hyperparameters as SgdHyperparameters;
    const velocity = buffer('velocity');
    return {
      type: 'sgd',
      get step() {
        return step;
      },
      // Keras SGD: velocity = momentum * velocity - lr * g; w += velocity.
      apply(params, grads, rate = learningRate) {
        checkSizes(params, grads);
        for (let k = 0; k < parameterCount; k++) {
          velocity[k] = momentum * velocity[k]! - rate * grads[k]!;
          params[k] = params[k]! + velocity[k]!;
        }
        step++;
      },
      exportState: () => ({ type: 'sgd', step, hyperparameters: { learningRate, momentum }, buffers: { velocity: velocity.slice() } }),
    };
  }

  const { learningRate, beta1, beta2, epsilon } = hyperparameters as AdamHyperparameters;
  const m = buffer('m');
  const v = buffer('v');
  return {
    type: 'adam',
    get step() {
      return step;
    },
    // Keras Adam: bias correction folded into the step size, epsilon added to sqrt(v).
    apply(params, grads, rate = learningRate) {
      checkSizes(params, grads);
      const t = step + 1;
      const alpha = (rate * Math.sqrt(1 - beta2 ** t)) / (1 - beta1 ** t);
      for (let k = 0; k < parameterCount; k++) {
        const g = grads[k]!;
        m[k] = m[k]! + (g - m[k]!) * (1 - beta1);
        v[k] = v[k]! + (g * g - v[k]!) * (1 - beta2);
        params[k] = params[k]! - (m[k]! * alpha) / (Math.sqrt(v[k]!) + epsilon);
      }
      step = t;
    },
    exportState: () => ({
      type: 'adam',
      step,
      hyperparameters: { learningRate, beta1, beta2, epsilon },
      buffers: { m: m.slice(), v: v.slice() },
    }),
  };
}

/** The config's hyperparameters with Keras's defaults filled in, validated. */
function resolveHyperparameters(config: OptimizerConfig): SgdHyperparameters | AdamHyperparameters {
  const check = (name: string, value: number, valid: boolean, range: string): number => {
    if (!Number.isFinite(value) || !valid) throw new RangeError(`optimizer.${name} must be ${range}, got ${value}`);
    return value;
  };
  const learningRate = check('learningRate', config.learningRate, config.learningRate > 0, 'a positive number');
  if (config.type === 'sgd') {
    const momentum = config.momentum ?? 0;
    return { learningRate, momentum: check('momentum', momentum, momentum >= 0 && momentum < 1, 'in [0, 1)') };
  }
  if (config.type !== 'adam')
    throw new RangeError(`optimizer.type must be 'sgd' or 'adam', got ${JSON.stringify((config as { type: unknown }).type)}`);
  const beta1 = config.beta1 ?? 0.9;
  const beta2 = config.beta2 ?? 0.999;
  const epsilon = config.epsilon ?? 1e-7;
  return {
    learningRate,
    beta1: check('beta1', beta1, beta1 >= 0 && beta1 < 1, 'in [0, 1)'),
    beta2: check('beta2', beta2, beta2 >= 0 && beta2 < 1, 'in [0, 1)'),
    epsilon: check('epsilon', epsilon, epsilon > 0, 'a positive number'),
  };
}

const BUFFER_NAMES: Readonly<Record<OptimizerState['type'], readonly string[]>> = { sgd: ['velocity'], adam: ['m', 'v'] };

function checkedState(
  state: OptimizerState,
  type: OptimizerState['type'],
  hyperparameters: SgdHyperparameters | AdamHyperparameters,
  parameterCount: number,
): { step: number; buffers: Readonly<Record<string, Float32Array>> } {
  if (state.type !== type) throw new OptimizerStateError(`holds a '${state.type}' optimizer, the config asks for '${type}'`);
  if (!Number.isSafeInteger(state.step) || state.step < 0)
    throw new OptimizerStateError(`step must be a non-negative integer, got ${state.step}`);
  for (const [name, value] of Object.entries(hyperparameters)) {
    const stored = (state.hyperparameters as unknown as Record<string, number>)[name];
    if (stored !== value) throw new OptimizerStateError(`${name} is ${stored}, the config says ${value}`);
  }
  const buffers = state.buffers as unknown as Readonly<Record<string, Float32Array>>;
  for (const name of BUFFER_NAMES[type]) {
    const buffer = buffers[name];
    if (!(buffer instanceof Float32Array)) throw new OptimizerStateError(`buffer '${name}' is missing`);
    if (buffer.length !== parameterCount)
      throw new OptimizerStateError(`buffer '${name}' has ${buffer.length} elements, the model has ${parameterCount} parameters`);
  }
  return { step: state.step, buffers };
}

// Binary format, all little-endian:
//   8 bytes  magic "LSTMOPT\0"
//   u32      format version (1)
//   u32      header length N in bytes
//   N bytes  UTF-8 JSON header {type, step, hyperparameters, buffers: [{name, length}]}
//   0-3      zero bytes, so that the data starts at a multiple of 4
//   float32  each buffer's elements, in the header's order
const MAGIC = 'LSTMOPT\0';
const FORMAT_VERSION = 1;
const PREAMBLE_BYTES = 16;

interface StateHeader {
  readonly type: OptimizerState['type'];
  readonly step: number;
  readonly hyperparameters: Record<string, number>;
  readonly buffers: readonly { readonly name: string; readonly length: number }[];
}

export function serializeOptimizerState(state: OptimizerState): Uint8Array {
  const buffers = Object.entries(state.buffers as unknown as Record<string, Float32Array>);
  const header: StateHeader = {
    type: state.type,
    step: state.step,
    hyperparameters: { ...state.hyperparameters },
    buffers: buffers.map(([name, data]) => ({ name, length: data.length })),
  };
  const headerBytes = new TextEncoder().encode(JSON.stringify(header));
  const dataOffset = align4(PREAMBLE_BYTES + headerBytes.length);
  const total = dataOffset + 4 * buffers.reduce((sum, [, data]) => sum + data.length, 0);
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, FORMAT_VERSION, true);
  view.setUint32(12, headerBytes.length, true);
  bytes.set(headerBytes, PREAMBLE_BYTES);
  let offset = dataOffset;
  for (const [, data] of buffers) {
    for (let k = 0; k < data.length; k++, offset += 4) view.setFloat32(offset, data[k]!, true);
  }
  return bytes;
}

export function deserializeOptimizerState(bytes: Uint8Array): OptimizerState {
  if (bytes.length < PREAMBLE_BYTES)
    throw new OptimizerStateError(`${bytes.length} bytes is shorter than the ${PREAMBLE_BYTES}-byte preamble`);
  if (new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new OptimizerStateError('not an optimizer state (bad magic bytes)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== FORMAT_VERSION)
    throw new OptimizerStateError(`format version ${version} is not supported (this build reads ${FORMAT_VERSION})`);
  const headerLength = view.getUint32(12, true);
  if (PREAMBLE_BYTES + headerLength > bytes.length)
    throw new OptimizerStateError(`header of ${headerLength} bytes runs past the end (${bytes.length} bytes)`);
  let header: StateHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(PREAMBLE_BYTES, PREAMBLE_BYTES + headerLength))) as StateHeader;
  } catch (error) {
    throw new OptimizerStateError(`header is not valid JSON (${(error as Error).message})`);
  }
  const expectedNames = BUFFER_NAMES[header.type];
  if (!expectedNames) throw new OptimizerStateError(`unknown optimizer type ${JSON.stringify(header.type)}`);
  if (!Array.isArray(header.buffers) || header.buffers.map((buffer) => buffer.name).join() !== expectedNames.join()) {
    throw new OptimizerStateError(`a '${header.type}' state holds buffers ${expectedNames.join(', ')}`);
  }
  if (!Number.isSafeInteger(header.step) || header.step < 0)
    throw new OptimizerStateError(`step must be a non-negative integer, got ${header.step}`);
  const hyperparameters = Object.entries(header.hyperparameters ?? {});
  if (hyperparameters.length === 0 || hyperparameters.some(([, value]) => !Number.isFinite(value))) {
    throw new OptimizerStateError(`hyperparameters must be finite numbers, got ${JSON.stringify(header.hyperparameters)}`);
  }
  let offset = align4(PREAMBLE_BYTES + headerLength);
  const expectedLength = offset + 4 * header.buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  if (header.buffers.some((buffer) => !Number.isSafeInteger(buffer.length) || buffer.length < 0) || expectedLength !== bytes.length) {
    throw new OptimizerStateError(`the header describes ${expectedLength} bytes, got ${bytes.length}`);
  }
  const buffers: Record<string, Float32Array> = {};
  for (const { name, length } of header.buffers) {
    const data = new Float32Array(length);
    for (let k = 0; k < length; k++, offset += 4) data[k] = view.getFloat32(offset, true);
    buffers[name] = data;
  }
  return { type: header.type, step: header.step, hyperparameters: header.hyperparameters, buffers } as unknown as OptimizerState;
}

function align4(value: number): number {
  return Math.ceil(value / 4) * 4;
}
