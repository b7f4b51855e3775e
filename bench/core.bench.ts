// npm run bench:core — one training step on the tfjs wasm backend, measured side by side in
// one process with:
//   - tfjs-layers `model.fit` of the equivalent LSTM + dense on the already embedded float
//     input [B,T,E] (tfjs-layers cannot train an Embedding on wasm: no UnsortedSegmentSum);
//   - wasm matMul on its own: the exact list of products one of our steps issues (taken
//     from tf.profile), replayed on random tensors of the same shapes, each right-hand
//     operand fresh per replay as in a real step (so its packing counts) and the recurrent
//     weights shared across timesteps as in a real step.
// Our step is the whole training step: lossAndGradient (forward, BPTT incl. the input
// gradients the model needs, embedding scatter-add), the average over the batch and Adam.
// Measurements are interleaved round by round (ours, matMul replay, tfjs-layers) so that a
// busy machine slows all three alike. Times are medians after warm-up steps; the ratios are
// medians of the ratios within each round.
// Each workload runs in a child process of its own: measured after the char-LM in the same
// process, the time series' figures moved by up to 10% (the wasm heap the char-LM and its
// tfjs-layers model leave behind).
// The native backend (@lstm-runner/lstm-native, oneDNN) runs the same step in the same rounds,
// with 2 threads and with 1 (two backends in one process: the thread count is set per call),
// when its addon is built; otherwise the bench says why and goes on without it.
// Prints a table and writes bench/results/core.json and a dated copy. Asserts nothing about time.
// bench/peers.bench.ts imports the workloads and our step from here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The full tfjs for the layers API; it shares tfjs-core's global engine with lstm-core.
import * as tf from '@tensorflow/tfjs';
import {
  clipByGlobalNorm,
  createOptimizer,
  createRng,
  createTfjsBackend,
  initializeParameters,
  lossAndGradient,
  ModelActivations,
  type Batch,
  type ComputeBackend,
  type ModelSpec,
} from '@lstm-runner/lstm-core';
import { createNativeBackend, nativeAvailability, type NativeComputeBackend } from '@lstm-runner/lstm-native';
import { median, writeBenchResults } from './bench-results';

export interface Workload {
  readonly key: 'charLm' | 'timeSeries';
  readonly title: string;
  readonly spec: ModelSpec;
  readonly B: number;
  readonly T: number;
  /** Measurement rounds, and steps of ours and of the matMul replay per round (tfjs-layers: one). */
  readonly rounds: number;
  readonly stepsPerRound: number;
  /** Native steps per round, for each thread count. */
  readonly nativeStepsPerRound: number;
  /** The same network in tfjs-layers, on the embedded float input. */
  readonly layersModel: () => tf.LayersModel;
}

// The same cell as ours (tfjs-layers defaults to hardSigmoid). Glorot instead of orthogonal
// recurrent init only skips tfjs's slow orthogonal initializer and its warning: the
// initial weights do not change the cost of a step.
const LAYERS_LSTM = { recurrentActivation: 'sigmoid', recurrentInitializer: 'glorotUniform' } as const;

export const workloads: Workload[] = [
  {
    key: 'charLm',
    title: 'char-LM: V=60 -> E=50 -> LSTM 128 -> softmax 60, B=128, T=100',
    spec: { input: { kind: 'tokens', vocabulary: 60, embedding: 50 }, layers: [128], head: { kind: 'classification', classes: 60 } },
    B: 128,
    T: 100,
    rounds: 7,
    stepsPerRound: 2,
    nativeStepsPerRound: 6,
    layersModel: () => {
      const model = tf.sequential({
        layers: [
          tf.layers.lstm({ units: 128, inputShape: [100, 50], ...LAYERS_LSTM }),
          tf.layers.dense({ units: 60, activation: 'softmax' }),
        ],
      });
      model.compile({ optimizer: tf.train.adam(0.001), loss: 'categoricalCrossentropy' });
      return model;
    },
  },
  {
    key: 'timeSeries',
    title: 'time series: I=10 -> 4 x LSTM 64 -> dense 1 (MSE), B=64, T=30',
    spec: { input: { kind: 'features', size: 10 }, layers: [64, 64, 64, 64], head: { kind: 'regression', outputs: 1 } },
    B: 64,
    T: 30,
    rounds: 9,
    stepsPerRound: 4,
    nativeStepsPerRound: 12,
    layersModel: () => {
      const model = tf.sequential({
        layers: [
          tf.layers.lstm({ units: 64, inputShape: [30, 10], ...LAYERS_LSTM, returnSequences: true }),
          tf.layers.lstm({ units: 64, ...LAYERS_LSTM, returnSequences: true }),
          tf.layers.lstm({ units: 64, ...LAYERS_LSTM, returnSequences: true }),
          tf.layers.lstm({ units: 64, ...LAYERS_LSTM }),
          tf.layers.dense({ units: 1 }),
        ],
      });
      model.compile({ optimizer: tf.train.adam(0.001), loss: 'meanSquaredError' });
      return model;
    },
  },
];

const WARM_UP_STEPS = 2;
const MEMORY_STEPS = 10;

/**
 * Matmul FLOPs of one training step as this backend does it, per LSTM layer (G = 4H; the
 * input carries a column of ones that brings in the bias, hence I+1):
 *   forward   2*T*B*(I+1+H)*G (per step [x_t, 1, h_{t-1}] x [W; b; U], h_{-1} = 0 included)
 *   backward  2*T*B*G*(H+I) (per step dz x [U^T | W^T]: dh_{t-1} and dx_t), or 2*(T-1)*B*G*H
 *             when the layer's input gradient is not needed (first layer on features);
 *             2*G*T*B*(I+1+H) (dW, dBias and dU in one product over all T)
 * and the dense head 2*B*H*K forward plus 2 * 2*B*H*K backward. Elementwise work (gates,
 * loss, scatter-add, Adam) is not counted.
 */
function stepFlops(spec: ModelSpec, B: number, T: number): number {
  let flops = 0;
  let I = spec.input.kind === 'features' ? spec.input.size : spec.input.embedding;
  spec.layers.forEach((H, n) => {
    const G = 4 * H;
    const wantInputGradient = n > 0 || spec.input.kind === 'tokens';
    flops += 2 * T * B * (I + 1 + H) * G;
    flops += wantInputGradient ? 2 * T * B * G * (H + I) : 2 * (T - 1) * B * G * H;
    flops += 2 * G * T * B * (I + 1 + H);
    I = H;
  });
  const K = spec.head.kind === 'regression' ? spec.head.outputs : spec.head.classes;
  return flops + 3 * 2 * B * I * K;
}

interface Product {
  readonly kernel: string;
  readonly M: number;
  readonly K: number;
  readonly N: number;
  /** Shares its right-hand operand with the previous product: the recurrent weights of one
   * layer's time loop (per-timestep products, M = B, of one kernel and shape in a row). */
  readonly sameRight: boolean;
}

/** The matmuls one step issues, in order, from tf.profile. */
async function profileProducts(step: () => void, B: number): Promise<Product[]> {
  const info = await tf.profile(step);
  const products: Product[] = [];
  for (const { name, inputShapes } of info.kernels) {
    if (name !== 'BatchMatMul' && name !== '_FusedMatMul') continue;
    const [a, b] = inputShapes as number[][];
    const product = { kernel: name, M: a!.at(-2)!, K: a!.at(-1)!, N: b!.at(-1)! };
    const previous = products.at(-1);
    const sameRight =
      product.M === B &&
      previous !== undefined &&
      previous.kernel === product.kernel &&
      previous.M === product.M &&
      previous.K === product.K &&
      previous.N === product.N;
    products.push({ ...product, sameRight });
  }
  return products;
}

/**
 * Replays a step's products. Left operands are made once per shape (wasm does not repack a
 * left operand); right operands are uploaded fresh for every replay, outside the timer, so
 * that their packing counts as it does in a real step.
 */
function createReplay(products: readonly Product[]): { run(): number; dispose(): void } {
  const rng = createRng(7);
  const largest = Math.max(...products.flatMap((p) => [p.M * p.K, p.K * p.N]));
  const pool = Float32Array.from({ length: largest }, () => rng.nextFloat() - 0.5);
  const lefts = new Map<string, tf.Tensor2D>();
  const leftOf = (p: Product): tf.Tensor2D => {
    const key = `${p.M}x${p.K}`;
    let left = lefts.get(key);
    if (left === undefined) {
      left = tf.tensor2d(pool.subarray(0, p.M * p.K), [p.M, p.K]);
      lefts.set(key, left);
    }
    return left;
  };
  return {
    run(): number {
      const rights: tf.Tensor2D[] = [];
      products.forEach((p, n) => rights.push(p.sameRight ? rights[n - 1]! : tf.tensor2d(pool.subarray(0, p.K * p.N), [p.K, p.N])));
      const start = performance.now();
      products.forEach((p, n) => tf.matMul(leftOf(p), rights[n]!).dispose());
      const ms = performance.now() - start;
      tf.dispose([...new Set(rights)]);
      return ms;
    },
    dispose(): void {
      tf.dispose([...lefts.values()]);
    },
  };
}

export const round = (value: number, digits: number): number => Number(value.toFixed(digits));
const mib = (bytes: number): number => round(bytes / 1048576, 1);

/** A random batch of the workload's shape, the same for every step: the cost of a step does not depend on the data. */
export function makeBatch(workload: Pick<Workload, 'spec' | 'B' | 'T'>): Batch<Float32Array> {
  const { spec, B, T } = workload;
  const rng = createRng(42);
  if (spec.input.kind === 'tokens') {
    const V = spec.input.vocabulary;
    return {
      B,
      T,
      tokens: Int32Array.from({ length: B * T }, () => rng.nextInt(V)),
      classes: Int32Array.from({ length: B }, () => rng.nextInt(V)),
    };
  }
  const I = spec.input.size;
  return {
    B,
    T,
    features: Float32Array.from({ length: B * T * I }, () => rng.nextNormal()),
    targets: Float32Array.from({ length: B }, () => rng.nextNormal()),
  };
}

/** The tfjs-layers inputs: the embedded float input [B,T,E] (or the features) and the targets. */
function layersData(
  workload: Workload,
  batch: Batch<Float32Array>,
  backend: ComputeBackend<Float32Array>,
  params: Float32Array,
): { x: tf.Tensor3D; y: tf.Tensor2D } {
  const { spec, B, T } = workload;
  if (spec.input.kind === 'tokens') {
    const { vocabulary: V, embedding: E } = spec.input;
    const x = new Float32Array(B * T * E);
    backend.embeddingForward(batch.tokens!, params.subarray(0, V * E), E, x);
    return { x: tf.tensor3d(x, [B, T, E]), y: tf.tidy(() => tf.oneHot(tf.tensor1d(batch.classes!, 'int32'), V) as tf.Tensor2D) };
  }
  return { x: tf.tensor3d(batch.features!, [B, T, spec.input.size]), y: tf.tensor2d(batch.targets!, [B, 1]) };
}

/**
 * Our whole training step on `batch`: lossAndGradient (forward, BPTT, embedding scatter-add),
 * the mean over the batch, clipping by global norm when `clipNorm` is given, and Adam; each
 * step function trains its own copy of the parameters.
 */
export function createTrainingStep(
  spec: ModelSpec,
  backend: ComputeBackend<Float32Array>,
  batch: Batch<Float32Array>,
  clipNorm?: number,
): { step(): void; params: Float32Array } {
  const params = initializeParameters(spec, 1);
  const grads = new Float32Array(params.length);
  const adam = createOptimizer({ type: 'adam', learningRate: 0.001 }, params.length);
  const activations = new ModelActivations((length) => backend.allocate(length));
  return {
    params,
    step: () => {
      grads.fill(0);
      const { count } = lossAndGradient(backend, spec, params, batch, grads, activations);
      for (let k = 0; k < grads.length; k++) grads[k] = grads[k]! / count;
      if (clipNorm !== undefined) clipByGlobalNorm(grads, clipNorm);
      adam.apply(params, grads);
    },
  };
}

/**
 * The backend with the time spent in each of its methods added up: where a step's time goes.
 * ('other' in the breakdown is the rest of the step: the loss, the copies in lossAndGradient,
 * the average and Adam, all in JS.)
 */
function timedMethods(backend: NativeComputeBackend): { backend: ComputeBackend<Float32Array>; totals: Map<string, number> } {
  const totals = new Map<string, number>();
  const add = (key: string, ms: number): void => {
    totals.set(key, (totals.get(key) ?? 0) + ms);
  };
  const wrapped = new Proxy(backend, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]): unknown => {
        const before = target.lstmPrimitiveMilliseconds();
        const start = performance.now();
        try {
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } finally {
          add(String(property), performance.now() - start);
          const after = target.lstmPrimitiveMilliseconds();
          add('primitiveForward', after.forward - before.forward);
          add('primitiveBackward', after.backward - before.backward);
        }
      };
    },
  });
  return { backend: wrapped, totals };
}

/**
 * ms per step inside oneDNN's LSTM primitives (forward, backward), at the LSTM calls'
 * boundary (transposes, weight reorders, checks), in the dense head, the embedding and the rest.
 */
function breakdown(totals: Map<string, number>, steps: number, msPerStep: number) {
  const perStep = (...methods: string[]) => methods.reduce((sum, method) => sum + (totals.get(method) ?? 0), 0) / steps;
  const primitiveForward = perStep('primitiveForward');
  const primitiveBackward = perStep('primitiveBackward');
  const parts = {
    lstmForwardPrimitive: primitiveForward,
    lstmBackwardPrimitive: primitiveBackward,
    lstmBoundary: perStep('lstmForward', 'lstmBackward') - primitiveForward - primitiveBackward,
    dense: perStep('denseForward', 'denseBackward'),
    embedding: perStep('embeddingForward', 'embeddingBackward'),
  };
  const other = msPerStep - Object.values(parts).reduce((sum, ms) => sum + ms, 0);
  return Object.fromEntries(Object.entries({ ...parts, other }).map(([key, ms]) => [key, round(ms, 2)]));
}

/** The native backend with 2 threads and with 1, or why it is not measured. */
async function nativeBackends(): Promise<{ two: NativeComputeBackend; one: NativeComputeBackend } | { unavailable: string }> {
  const availability = nativeAvailability();
  if (!availability.available) return { unavailable: availability.reason };
  // The first load pins OMP_NUM_THREADS=2, OMP_WAIT_POLICY=PASSIVE and the ISA; the 1-thread
  // backend sets its thread count per call.
  return { two: await createNativeBackend({ threads: 2 }), one: await createNativeBackend({ threads: 1 }) };
}

async function measure(workload: Workload, backend: ComputeBackend<Float32Array>) {
  const { spec, B, T } = workload;
  const batch = makeBatch(workload);
  const { step: ourStep, params } = createTrainingStep(spec, backend, batch);
  const native = await nativeBackends();
  const timedNative = 'unavailable' in native ? null : { two: timedMethods(native.two), one: timedMethods(native.one) };
  const nativeSteps =
    timedNative === null
      ? null
      : {
          two: createTrainingStep(spec, timedNative.two.backend, batch).step,
          one: createTrainingStep(spec, timedNative.one.backend, batch).step,
        };
  const timed = (step: () => void): number => {
    const start = performance.now();
    step();
    return performance.now() - start;
  };

  for (let n = 0; n < WARM_UP_STEPS; n++) ourStep();
  // Memory across our steps only (the tfjs-layers model and the replay hold tensors of their own).
  const before = { rssMiB: mib(process.memoryUsage().rss), numTensors: tf.memory().numTensors };
  for (let n = 0; n < MEMORY_STEPS; n++) ourStep();
  const after = { rssMiB: mib(process.memoryUsage().rss), numTensors: tf.memory().numTensors };

  const products = await profileProducts(ourStep, B);
  const flops = products.reduce((sum, p) => sum + 2 * p.M * p.K * p.N, 0);
  const formulaFlops = stepFlops(spec, B, T);
  if (flops !== formulaFlops) console.warn(`${workload.key}: profiled matmul FLOPs ${flops} differ from the formula's ${formulaFlops}`);
  const replay = createReplay(products);
  for (let n = 0; n < WARM_UP_STEPS; n++) replay.run();

  const model = workload.layersModel();
  const { x, y } = layersData(workload, batch, backend, params);
  const fitOnce = async (): Promise<number> => {
    await tf.setBackend('wasm');
    const start = performance.now();
    await model.fit(x, y, { batchSize: B, epochs: 1, shuffle: false, verbose: 0 });
    return performance.now() - start;
  };
  for (let n = 0; n < WARM_UP_STEPS; n++) await fitOnce();
  for (let n = 0; n < WARM_UP_STEPS && nativeSteps !== null; n++) {
    nativeSteps.two();
    nativeSteps.one();
  }
  timedNative?.two.totals.clear();
  timedNative?.one.totals.clear();

  const ours: number[] = [];
  const nativeTwo: number[] = [];
  const nativeOne: number[] = [];
  // CPU time of the process per native step (all its threads): the work itself, which other
  // load on the machine moves less than the wall time.
  const nativeCpu = { two: [] as number[], one: [] as number[] };
  const timedWithCpu = (step: () => void, cpu: number[]): number => {
    const before = process.cpuUsage();
    const ms = timed(step);
    const used = process.cpuUsage(before);
    cpu.push((used.user + used.system) / 1000);
    return ms;
  };
  const nativeSpeedups: number[] = [];
  const nativeOneSpeedups: number[] = [];
  const matMulOnly: number[] = [];
  const layers: number[] = [];
  // Ratios per round, from measurements minutes apart at most: load that comes and goes
  // during the run moves them less than it moves the overall medians.
  const speedups: number[] = [];
  const shares: number[] = [];
  for (let r = 0; r < workload.rounds; r++) {
    const oursInRound: number[] = [];
    const matMulInRound: number[] = [];
    for (let n = 0; n < workload.stepsPerRound; n++) oursInRound.push(timed(ourStep));
    for (let n = 0; n < workload.stepsPerRound; n++) matMulInRound.push(replay.run());
    const layersMs = await fitOnce();
    if (nativeSteps !== null) {
      // Alternating 2 and 1 threads within the round: load moves both alike.
      const twoInRound: number[] = [];
      const oneInRound: number[] = [];
      for (let n = 0; n < workload.nativeStepsPerRound; n++) {
        twoInRound.push(timedWithCpu(nativeSteps.two, nativeCpu.two));
        oneInRound.push(timedWithCpu(nativeSteps.one, nativeCpu.one));
      }
      nativeTwo.push(...twoInRound);
      nativeOne.push(...oneInRound);
      nativeSpeedups.push(median(oursInRound) / median(twoInRound));
      nativeOneSpeedups.push(median(oursInRound) / median(oneInRound));
    }
    ours.push(...oursInRound);
    matMulOnly.push(...matMulInRound);
    layers.push(layersMs);
    speedups.push(layersMs / median(oursInRound));
    shares.push(median(matMulInRound) / median(oursInRound));
    process.stdout.write('.');
  }
  tf.dispose([x, y]);
  model.optimizer.dispose();
  model.dispose();
  replay.dispose();

  const msPerStep = median(ours);
  const matMulMs = median(matMulOnly);
  const nativeFigures = (times: number[], speedups: number[], totals: Map<string, number>, cpu: number[]) => ({
    msPerStep: round(median(times), 1),
    cpuMsPerStep: round(median(cpu), 1),
    gflops: round(flops / median(times) / 1e6, 2),
    speedupVsWasm: round(median(speedups), 2),
    speedupVsWasmPerRound: speedups.map((v) => round(v, 2)),
    samples: times.length,
    // Means over the measured steps (the step time above is a median).
    breakdownMsPerStep: breakdown(totals, times.length, times.reduce((sum, ms) => sum + ms, 0) / times.length),
  });
  return {
    title: workload.title,
    wasm: { msPerStep: round(msPerStep, 1), gflops: round(flops / msPerStep / 1e6, 2) },
    native:
      'unavailable' in native
        ? { unavailable: native.unavailable }
        : {
            description: native.two.description,
            threads: 2,
            ...nativeFigures(nativeTwo, nativeSpeedups, timedNative!.two.totals, nativeCpu.two),
            oneThread: {
              description: native.one.description,
              ...nativeFigures(nativeOne, nativeOneSpeedups, timedNative!.one.totals, nativeCpu.one),
            },
          },
    tfjsLayers: { msPerStep: round(median(layers), 1) },
    speedupVsTfjsLayers: round(median(speedups), 2),
    matMulGflops: round(flops / matMulMs / 1e6, 2),
    shareOfMatMul: round(median(shares), 3),
    speedupPerRound: speedups.map((v) => round(v, 2)),
    shareOfMatMulPerRound: shares.map((v) => round(v, 3)),
    gflopPerStep: round(flops / 1e9, 3),
    matMulMsPerStep: round(matMulMs, 1),
    matMulCallsPerStep: products.length,
    samples: { ours: ours.length, matMul: matMulOnly.length, tfjsLayers: layers.length },
    memory: { steps: MEMORY_STEPS, before, after },
  };
}

type WorkloadResult = Awaited<ReturnType<typeof measure>>;

/** In a child process: `core.bench.ts --workload KEY --out FILE` measures one workload into FILE. */
async function measureOne(key: string, out: string): Promise<void> {
  const workload = workloads.find((w) => w.key === key);
  if (workload === undefined) throw new Error(`unknown workload ${key}`);
  const backend = await createTfjsBackend('wasm');
  writeFileSync(out, JSON.stringify(await measure(workload, backend)));
}

function measureInChild(workload: Workload, directory: string): WorkloadResult {
  const out = join(directory, `${workload.key}.json`);
  const child = spawnSync(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), '--workload', workload.key, '--out', out],
    {
      stdio: 'inherit',
    },
  );
  if (child.status !== 0) throw new Error(`the ${workload.key} measurement exited with ${child.status ?? child.signal}`);
  return JSON.parse(readFileSync(out, 'utf8')) as WorkloadResult;
}

async function main(): Promise<void> {
  const backend = await createTfjsBackend('wasm');
  const loadBefore = os.loadavg();
  console.log(`backend: ${backend.description}`);
  console.log(
    `machine: ${os.cpus()[0]?.model ?? 'unknown cpu'}, ${os.cpus().length} cpus, node ${process.version}, load ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
  );
  const directory = mkdtempSync(join(os.tmpdir(), 'bench-core-'));
  const results: Record<string, WorkloadResult> = {};
  try {
    for (const workload of workloads) {
      process.stdout.write(`${workload.title} `);
      results[workload.key] = measureInChild(workload, directory);
      process.stdout.write('\n');
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  const loadAfter = os.loadavg();

  const rows = [
    [
      'workload',
      'ours ms/step',
      'GFLOP/s',
      'tfjs-layers ms/step',
      'speedup',
      'matMul GFLOP/s',
      'share of matMul',
      'RSS MiB before/after',
      'tensors before/after',
    ],
  ];
  for (const [key, r] of Object.entries(results)) {
    rows.push([
      key,
      r.wasm.msPerStep.toFixed(1),
      r.wasm.gflops.toFixed(2),
      r.tfjsLayers.msPerStep.toFixed(1),
      `${r.speedupVsTfjsLayers.toFixed(2)}x`,
      r.matMulGflops.toFixed(2),
      `${(100 * r.shareOfMatMul).toFixed(1)}%`,
      `${r.memory.before.rssMiB}/${r.memory.after.rssMiB}`,
      `${r.memory.before.numTensors}/${r.memory.after.numTensors}`,
    ]);
  }
  printTable(rows);
  const nativeRows = [
    ['workload', 'native ms/step (2 threads)', 'CPU ms', 'GFLOP/s', 'vs wasm', 'native ms/step (1 thread)', 'CPU ms', 'GFLOP/s', 'vs wasm'],
  ];
  let nativeDescription = '';
  for (const [key, r] of Object.entries(results)) {
    const native = r.native;
    if (native.unavailable !== undefined) {
      console.log(`native: not measured: ${native.unavailable}`);
      continue;
    }
    nativeDescription = native.description;
    const one = native.oneThread;
    nativeRows.push([
      key,
      native.msPerStep.toFixed(1),
      native.cpuMsPerStep.toFixed(1),
      native.gflops.toFixed(2),
      `${native.speedupVsWasm.toFixed(2)}x`,
      one.msPerStep.toFixed(1),
      one.cpuMsPerStep.toFixed(1),
      one.gflops.toFixed(2),
      `${one.speedupVsWasm.toFixed(2)}x`,
    ]);
  }
  if (nativeRows.length > 1) {
    console.log(nativeDescription);
    printTable(nativeRows);
    const parts = ['lstmForwardPrimitive', 'lstmBackwardPrimitive', 'lstmBoundary', 'dense', 'embedding', 'other'];
    const breakdownRows = [['where a native step goes (mean ms)', ...parts]];
    for (const [key, r] of Object.entries(results)) {
      const native = r.native;
      if (native.unavailable !== undefined) continue;
      for (const [threads, figures] of [
        ['2 threads', native],
        ['1 thread', native.oneThread],
      ] as const) {
        breakdownRows.push([`${key}, ${threads}`, ...parts.map((part) => (figures.breakdownMsPerStep[part] ?? 0).toFixed(2))]);
      }
    }
    printTable(breakdownRows);
  }
  console.log(
    `load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${loadAfter.map((l) => l.toFixed(2)).join(' ')}`,
  );

  const output = {
    ...results,
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cpus: os.cpus().length,
      node: process.version,
      backend: backend.description,
      loadAverageBefore: loadBefore.map((l) => round(l, 2)),
      loadAverageAfter: loadAfter.map((l) => round(l, 2)),
    },
    date: new Date().toISOString(),
  };
  writeBenchResults('core', output);
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const workloadFlag = process.argv.indexOf('--workload');
  if (workloadFlag >= 0) await measureOne(process.argv[workloadFlag + 1] ?? '', process.argv[process.argv.indexOf('--out') + 1] ?? '');
  else await main();
}
