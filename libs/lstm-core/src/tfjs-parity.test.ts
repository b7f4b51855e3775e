// The reference backend against TensorFlow.js on its 'cpu' backend: gradients against tfjs
// autodiff over a per-step graph of tfjs-core ops (the construction this library avoids for
// speed, used here as an independent oracle), and the forward pass against a tfjs-layers
// model holding the same weights.
import { describeLayersForwardParity, describeModelAgainstAutodiff } from '../../../test-support/tfjs-oracles';
import { createReferenceBackend } from './reference';

const float32 = async () => createReferenceBackend('float32');

describeModelAgainstAutodiff('reference backend (float32)', float32);
describeLayersForwardParity('reference backend (float32)', float32);
