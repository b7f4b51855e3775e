// A tiny model through the ComputeBackend interface (embedding -> 2 stacked LSTM layers ->
// dense on the last timestep) against tfjs autodiff, on the tfjs backends.
import { describeTinyModelAgainstAutodiff } from '../../../../test-support/tfjs-oracles';
import { createTfjsBackend } from './tfjs-backend';

describeTinyModelAgainstAutodiff({ wasm: () => createTfjsBackend('wasm'), cpu: () => createTfjsBackend('cpu') });
