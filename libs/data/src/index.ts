// @lstm-runner/data: datasets. CSV and text sources, vocabularies, normalization, lazy
// sliding windows, splits, deterministic shard plans, the packed dataset format in the
// store and its reader, and the encoding of inference inputs and outputs.
export { encodingSettingsOf } from './data-spec';
export type {
  CsvDataSpec,
  CsvSettings,
  DataFormat,
  DataSpec,
  EncodingSettings,
  NormalizationMethod,
  TextDataSpec,
  TextSettings,
  WindowSettings,
} from './data-spec';
export { localFileSource, readFileChunks, statSourceFile, toLocalBytes } from './byte-source';
export type { ByteSource, LocalBytes } from './byte-source';
export { readCsv } from './csv-source';
export type { CsvColumnSelection, CsvRowSink } from './csv-source';
export { codePointsOf, lowercaseCodePoint, readTextCodePoints, Utf8Decoder } from './text-source';
export {
  decodeTokens,
  encodeText,
  tokenBytes,
  TokenEncoder,
  tokenTypeFor,
  UNKNOWN_CHARACTER,
  unknownIdOf,
  vocabularyFromFirstSeen,
} from './vocabulary';
export type { TokenType } from './vocabulary';
export { affineColumns, denormalizeRows, normalizeRows, selectColumns } from './normalization';
export type { AffineColumns, ColumnStatistics, Normalization } from './normalization';
export { trainingRowCount, windowCount, WindowLayout } from './windows';
export type { SeriesRows, Split, WindowRows } from './windows';
export {
  DATASET_FORMAT_VERSION,
  DATASETS_PREFIX,
  datasetIdFor,
  datasetManifestKey,
  datasetPrefix,
  datasetSegmentName,
  loadManifest,
  parseManifest,
} from './manifest';
export type {
  CsvEncoding,
  CsvManifest,
  DatasetManifest,
  InheritedEncoding,
  SegmentEntry,
  SeriesEntry,
  TextEncoding,
  TextManifest,
} from './manifest';
export { DEFAULT_SEGMENT_BYTES, prepareDataset, storedColumns } from './prepare';
export type { PrepareDatasetOptions, PreparedDataset } from './prepare';
export { summarizeDataset } from './dataset-summary';
export type { ColumnStatisticsSummary, DatasetSummary, SeriesSummary } from './dataset-summary';
export { SHUFFLE_VERSION, ShardPlan, shuffleForNewJob, shufflePermutation } from './shard-plan';
export type { ShardPlanSettings, ShardRef, ShuffleSettings, StepPosition } from './shard-plan';
export { openDataset } from './reader';
export { cacheHitRate, DEFAULT_CACHE_MAX_BYTES } from './segment-cache';
export type { SegmentCacheStats } from './segment-cache';
export type { DatasetReader, OpenDatasetOptions } from './reader';
export { denormalizeTargets, featureNormalization, featureWindows, readCsvTable, targetNormalization } from './inference-encoding';
export type { CsvTable } from './inference-encoding';
export { DataError } from './errors/data-error';
export { DatasetFormatError } from './errors/dataset-format-error';
export { DatasetIntegrityError } from './errors/dataset-integrity-error';
