// The adding problem at T = 100 or more (Hochreiter & Schmidhuber 1997): trains an LSTM until it
// answers >= 96% of a fixed validation set within 0.04, then scores 2,000 fresh test
// sequences, and reports how many training sequences that took. Prints its figures and
// writes bench/results/adding.json (adding-t<T>.json for T other than 100); asserts nothing
// about time. Exits non-zero when the test accuracy stays below 95%.
//
//   npm run bench:adding [-- --backend native|wasm|cpu|reference|auto] [--T N] [--seed N] [--max-steps N]

import { parseArgs } from 'node:util';
import { loadComputeBackend } from '@lstm-runner/backends';
import { createReferenceBackend, type ComputeBackend } from '@lstm-runner/lstm-core';
import { addingProblemWindow, trainAddingProblem } from './adding-problem';
import { writeBenchResults } from './bench-results';

const { values: args } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    T: { type: 'string', default: '100' },
    seed: { type: 'string', default: '1' },
    'max-steps': { type: 'string', default: '20000' },
  },
});

const settings = {
  T: Number(args.T),
  hidden: 32,
  batchSize: 32,
  learningRate: 0.001,
  clipNorm: 1,
  // Keras's init does not leave the initial plateau at T = 100 within 20,000 steps here;
  // chrono gate biases (Tallec & Ollivier 2018) are the standard cure for long lags.
  initialization: 'chrono' as const,
  seed: Number(args.seed),
  maxSteps: Number(args['max-steps']),
  validateEvery: 100,
  validationSize: 1000,
  stopAccuracy: 0.96,
  testSize: 2000,
};
const REQUIRED_ACCURACY = 0.95;

/** The float32 reference backend, or any backend of the apps' registry (native, wasm, cpu, ...) on one thread. */
async function loadBackend(name: string): Promise<ComputeBackend<Float32Array>> {
  if (name === 'reference') return createReferenceBackend('float32');
  return (await loadComputeBackend(name)).backend;
}

const backend = await loadBackend(args.backend);
console.log(
  `adding problem, T = ${settings.T} (window ${addingProblemWindow(settings.T)}), LSTM(${settings.hidden}), ${settings.initialization} init, ` +
    `batch ${settings.batchSize}, Adam ${settings.learningRate}, seed ${settings.seed}`,
);
console.log(`backend: ${backend.description}`);
console.log('    step   sequences   train MSE   valid MSE   valid acc   seconds');

const started = performance.now();
const result = trainAddingProblem({
  backend,
  ...settings,
  onValidation(check) {
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `${String(check.step).padStart(8)}  ${String(check.trainingSequences).padStart(10)}  ${check.trainingMse.toExponential(2).padStart(10)}` +
        `  ${check.mse.toExponential(2).padStart(10)}  ${(100 * check.accuracy).toFixed(1).padStart(9)}%  ${seconds.toFixed(0).padStart(8)}`,
    );
  },
});
const seconds = (performance.now() - started) / 1000;
backend.dispose();

const solved = result.test.accuracy >= REQUIRED_ACCURACY;
const figures = {
  task: 'adding problem (Hochreiter & Schmidhuber 1997)',
  T: settings.T,
  window: addingProblemWindow(settings.T),
  backend: backend.name,
  backendDescription: backend.description,
  model: { input: 2, lstm: [settings.hidden], outputs: 1 },
  settings,
  steps: result.steps,
  trainingSequences: result.trainingSequences,
  validationStopped: result.stopped,
  test: { sequences: settings.testSize, accuracy: result.test.accuracy, mse: result.test.mse, tolerance: 0.04 },
  requiredAccuracy: REQUIRED_ACCURACY,
  solved,
  seconds,
  msPerStep: (1000 * seconds) / result.steps,
  history: result.history,
};

console.log();
console.log(`training sequences: ${result.trainingSequences.toLocaleString('en-US')} (${result.steps} steps of ${settings.batchSize})`);
console.log(
  `test: ${(100 * result.test.accuracy).toFixed(2)}% of ${settings.testSize} fresh sequences within 0.04 (MSE ${result.test.mse.toExponential(2)})`,
);
console.log(`time: ${seconds.toFixed(0)} s, ${figures.msPerStep.toFixed(1)} ms/step (validation included)`);
console.log(solved ? `solved (>= ${100 * REQUIRED_ACCURACY}%)` : `NOT solved: below ${100 * REQUIRED_ACCURACY}%`);

writeBenchResults(settings.T === 100 ? 'adding' : `adding-t${settings.T}`, figures);
if (!solved) process.exitCode = 1;
