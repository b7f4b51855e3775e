// @lstm-runner/lstm-core: the model and its math. Model specs and the flat parameter
// layout (Keras order), initialisation, forward and explicit BPTT, losses, clipping,
// optimizers and learning-rate schedules, inference, the compute backend interface and its
// registry, the tfjs backends, and the schema fields every document reader of the project is
// built from.
export { NUMERICS_VERSION } from './backend';
export type { ComputeBackend, DenseShape, FloatArray, LayerCache, LstmGradients, LstmShape, LstmWeights } from './backend';
export { BackendRegistry, DEFAULT_AUTO_ORDER, DEFAULT_BACKEND_OPTIONS } from './backend-registry';
export type { BackendLoader, BackendOptions, BackendRegistryOptions, LoadedBackend, SkippedBackend } from './backend-registry';
export { createTfjsBackend, registerTfjsBackends, TFJS_BACKEND_NAMES } from './tfjs/tfjs-backend';
export type { TfjsBackendName } from './tfjs/tfjs-backend';
export { createReferenceBackend } from './reference';
export type { ReferencePrecision } from './reference';
export { createRng, deriveSeed } from './rng';
export type { Rng } from './rng';
export {
  headWidth,
  inputWidth,
  lastLayerUnits,
  MODEL_INITS,
  MODEL_OUTPUTS,
  modelSpecSchema,
  predictionsPerWindow,
  validateModelSpec,
} from './model-spec';
export type { ModelHead, ModelInit, ModelInput, ModelOutput, ModelSpec } from './model-spec';
export { blockView, findBlock, modelGradients, modelParameters, parameterLayout } from './layout';
export type { ModelGradients, ModelParameters, ParameterBlock, ParameterLayout } from './layout';
export { formatParameterSummary, summarizeParameters } from './parameter-summary';
export type { GateName, GateSummary, LayerSummary, ParameterSummary } from './parameter-summary';
export { applyChronoInitialization, initializeParameters } from './init';
export { batchForOutput, evaluateLoss, forwardLogits, lossAndGradient, ModelActivations, nextTokenLoss } from './model';
export type { Batch, LossResult } from './model';
export { clipByGlobalNorm } from './clip';
export { createOptimizer, deserializeOptimizerState, serializeOptimizerState } from './optimizer';
export { LEARNING_RATE_DECAYS, scheduledLearningRate } from './learning-rate-schedule';
export type { LearningRateDecay, LearningRateSchedule } from './learning-rate-schedule';
export type { AdamHyperparameters, Optimizer, OptimizerConfig, OptimizerState, SgdHyperparameters } from './optimizer';
export { generate, nextTokenDistribution, predict } from './inference';
export type { GenerateOptions } from './inference';
export {
  booleanField,
  describeValue,
  expecting,
  finiteNumber,
  fraction,
  integerIn,
  mapping,
  matching,
  nonEmptyList,
  nonEmptyString,
  nonNegativeInteger,
  oneOf,
  positiveInteger,
  positiveNumber,
  tagged,
} from './validation/schema-fields';
export { firstIssue, issueLine, issuePath } from './validation/schema-issues';
export type { IssueLine } from './validation/schema-issues';
export { BackendUnavailableError } from './errors/backend-unavailable-error';
export { ModelSpecError } from './errors/model-spec-error';
export { NoBackendAvailableError } from './errors/no-backend-available-error';
export { OptimizerStateError } from './errors/optimizer-state-error';
export { UnknownBackendError } from './errors/unknown-backend-error';
