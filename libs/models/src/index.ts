// @lstm-runner/models: using a trained model, without a queue. Finding it (a job id, a model
// name or version, an export directory), text generation and predictions in original units,
// evaluation on shared data for the promotion gate, and export to the TensorFlow.js layers format.
export { loadCheckpointModel, loadModelByRef, loadTrainedModel } from './trained-model';
export { evaluateModel, evaluateOnSameData, MAX_EVALUATION_WINDOWS, readHoldout, validationData } from './model-evaluation';
export type { EvaluationData } from './model-evaluation';
export type { ModelEncoding, TrainedModel } from './trained-model';
export { generateText, predictCsv } from './model-inference';
export type { CsvPredictions, GenerateTextOptions, PredictOptions } from './model-inference';
export { EXPORT_FILES, exportModel } from './tfjs-export';
export type { WeightSpec } from './tfjs-export';
export { loadExportedModel, readLayersArtifacts } from './exported-model-reader';
export type { LayersArtifacts } from './exported-model-reader';
export { ExportFormatError } from './errors/export-format-error';
export { SAMPLE_SEED_LENGTH, sampleSeedText } from './sample-seed';
export { corpusWordFraction, textBaselines } from './text-baselines';
export type { TextBaselines } from './text-baselines';
