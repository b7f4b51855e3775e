// The storage layout (one bucket + prefix, or one local directory), as functions:
//
//   datasets/<dataset-id>/manifest.json, segment-00000.bin ...
//   jobs/<job-id>/spec.json
//   jobs/<job-id>/latest.json                                 pointer + generation, written last
//   jobs/<job-id>/weights/<step>-t<token>.bin                 recent versions only
//   jobs/<job-id>/checkpoints/<step>-t<token>/{weights.bin,optimizer.bin,manifest.json}
//   jobs/<job-id>/grads/<generation>/<step>/<shard>.bin       deleted after aggregation
//   jobs/<job-id>/grads/<generation>/<step>/r<node>.bin       reduction tree nodes, likewise
//   jobs/<job-id>/metrics/<first step>-t<token>.jsonl         one record per step, in chunks
//
// <token> is the fencing token of the coordinator that wrote the object: a coordinator that
// stalled past its lease writes only under its own token, which nothing follows (readers
// follow latest.json, moved by compare-and-set). Keys of releases before fencing tokens have
// no -t<token> part and read as token 0.
//   models/<name>/latest.json, best.json                      last completed run; lowest validation loss
//   models/<name>/versions/<n>/version.json                    one per completed run, immutable
//   models/<name>/production.json                              the alias readers follow
//   schedules/<schedule-id>.json
//
// Numbers are zero-padded (steps to 10 digits, generations and shards to 6) so that listings
// sort in numeric order; every id is validated, so a key never escapes its folder.
import { DATASETS_PREFIX, datasetManifestKey as dataManifestKey, datasetPrefix, datasetSegmentName } from '@lstm-runner/data';
import { InvalidIdentifierError } from './errors/invalid-identifier-error';
import { validateCounter, validateDatasetId, validateJobId, validateModelName, validateScheduleId } from './identifiers';

export const STEP_DIGITS = 10;
export const VERSION_DIGITS = 6;
export const GENERATION_DIGITS = 6;
export const SHARD_DIGITS = 6;

export { DATASETS_PREFIX };
export const JOBS_PREFIX = 'jobs/';
export const MODELS_PREFIX = 'models/';
export const SCHEDULES_PREFIX = 'schedules/';

function padded(what: string, value: number, digits: number): string {
  return String(validateCounter(what, value, 10 ** digits - 1)).padStart(digits, '0');
}

/** A step as it appears in keys: 10 digits. */
export function formatStep(step: number): string {
  return padded('step', step, STEP_DIGITS);
}

export function datasetManifestKey(datasetId: string): string {
  return dataManifestKey(validateDatasetId(datasetId));
}

export function datasetSegmentKey(datasetId: string, segment: number): string {
  validateCounter('segment', segment, Number.MAX_SAFE_INTEGER);
  return datasetPrefix(validateDatasetId(datasetId)) + datasetSegmentName(segment);
}

export function jobPrefix(jobId: string): string {
  return `${JOBS_PREFIX}${validateJobId(jobId)}/`;
}

export function jobSpecKey(jobId: string): string {
  return `${jobPrefix(jobId)}spec.json`;
}

/** The job's pointer (state, generation, last checkpoint): written last, the atomic switch. */
export function jobLatestKey(jobId: string): string {
  return `${jobPrefix(jobId)}latest.json`;
}

export function weightsPrefix(jobId: string): string {
  return `${jobPrefix(jobId)}weights/`;
}

/** '-t<token>' for a coordinator's fencing token; '' for token 0 (keys of earlier releases). */
function tokenSuffix(token: number): string {
  return token === 0 ? '' : `-t${validateCounter('fencing token', token, Number.MAX_SAFE_INTEGER)}`;
}

/** Shared weights version `step` (the weights the step's shards are computed against), written by the owner with `token`. */
export function weightsKey(jobId: string, step: number, token: number): string {
  return `${weightsPrefix(jobId)}${formatStep(step)}${tokenSuffix(token)}.bin`;
}

export function checkpointsPrefix(jobId: string): string {
  return `${jobPrefix(jobId)}checkpoints/`;
}

export interface CheckpointKeys {
  /** The checkpoint's folder, ending in '/'. */
  readonly prefix: string;
  readonly weights: string;
  readonly optimizer: string;
  /** Written last: a checkpoint without a manifest is incomplete and never loaded. */
  readonly manifest: string;
}

export function checkpointKeys(jobId: string, step: number, token: number): CheckpointKeys {
  const prefix = `${checkpointsPrefix(jobId)}${formatStep(step)}${tokenSuffix(token)}/`;
  return { prefix, weights: `${prefix}weights.bin`, optimizer: `${prefix}optimizer.bin`, manifest: `${prefix}manifest.json` };
}

export function gradientsPrefix(jobId: string): string {
  return `${jobPrefix(jobId)}grads/`;
}

/** The folder of one step's shard gradients in one generation. */
export function gradientStepPrefix(jobId: string, generation: number, step: number): string {
  return `${gradientsPrefix(jobId)}${padded('generation', generation, GENERATION_DIGITS)}/${formatStep(step)}/`;
}

export function gradientKey(jobId: string, generation: number, step: number, shard: number): string {
  return `${gradientStepPrefix(jobId, generation, step)}${padded('shard', shard, SHARD_DIGITS)}.bin`;
}

/** The sum a reduction tree node of the step wrote (reductionVersion 2). */
export function reducedGradientKey(jobId: string, generation: number, step: number, node: number): string {
  return `${gradientStepPrefix(jobId, generation, step)}r${padded('node', node, SHARD_DIGITS)}.bin`;
}

export function metricsPrefix(jobId: string): string {
  return `${jobPrefix(jobId)}metrics/`;
}

/** The chunk of metric records (JSON lines) that starts at firstStep, written by the owner with `token`. */
export function metricsChunkKey(jobId: string, firstStep: number, token: number): string {
  return `${metricsPrefix(jobId)}${formatStep(firstStep)}${tokenSuffix(token)}.jsonl`;
}

/** Points at the last completed run's final checkpoint. */
export function modelLatestKey(name: string): string {
  return `${MODELS_PREFIX}${validateModelName(name)}/latest.json`;
}

/** Points at the checkpoint with the lowest validation loss. */
export function modelBestKey(name: string): string {
  return `${MODELS_PREFIX}${validateModelName(name)}/best.json`;
}

export function modelVersionsPrefix(name: string): string {
  return `${MODELS_PREFIX}${validateModelName(name)}/versions/`;
}

/** Version n of a model (n >= 1): written once, by a create-only compare-and-set that allocates n. */
export function modelVersionKey(name: string, version: number): string {
  if (version === 0) throw new InvalidIdentifierError('model version', version, 'versions start at 1');
  return `${modelVersionsPrefix(name)}${padded('model version', version, VERSION_DIGITS)}/version.json`;
}

/** The production alias: the version that readers of the model name follow. */
export function modelProductionKey(name: string): string {
  return `${MODELS_PREFIX}${validateModelName(name)}/production.json`;
}

/** A schedule's definition: the source of truth, mirrored into Redis at coordinator start. */
export function scheduleKey(scheduleId: string): string {
  return `${SCHEDULES_PREFIX}${validateScheduleId(scheduleId)}.json`;
}

/** What a key of this layout is; parseStoreKey's answer. */
export type StoreKeyInfo =
  | { readonly kind: 'datasetManifest'; readonly datasetId: string }
  | { readonly kind: 'datasetSegment'; readonly datasetId: string; readonly segment: number }
  | { readonly kind: 'jobSpec'; readonly jobId: string }
  | { readonly kind: 'jobLatest'; readonly jobId: string }
  | { readonly kind: 'weights'; readonly jobId: string; readonly step: number; readonly token: number }
  | {
      readonly kind: 'checkpoint';
      readonly jobId: string;
      readonly step: number;
      readonly token: number;
      readonly file: 'weights' | 'optimizer' | 'manifest';
    }
  | { readonly kind: 'gradient'; readonly jobId: string; readonly generation: number; readonly step: number; readonly shard: number }
  | { readonly kind: 'reducedGradient'; readonly jobId: string; readonly generation: number; readonly step: number; readonly node: number }
  | { readonly kind: 'metricsChunk'; readonly jobId: string; readonly firstStep: number; readonly token: number }
  | { readonly kind: 'modelLatest'; readonly name: string }
  | { readonly kind: 'modelBest'; readonly name: string }
  | { readonly kind: 'modelVersion'; readonly name: string; readonly version: number }
  | { readonly kind: 'modelProduction'; readonly name: string }
  | { readonly kind: 'schedule'; readonly scheduleId: string };

const ID = '([a-z0-9][a-z0-9._-]{0,99})';
const NAME = '([A-Za-z0-9][A-Za-z0-9._-]{0,99})';
const CHECKPOINT_FILES = { 'weights.bin': 'weights', 'optimizer.bin': 'optimizer', 'manifest.json': 'manifest' } as const;
const STEP = `(\\d{${STEP_DIGITS}})`;
/** An optional fencing token: '-t<digits>', read as 0 when absent. */
const TOKEN = '(?:-t(\\d+))?';
const token = (text: string | undefined): number => (text === undefined ? 0 : Number(text));
const KEY_PATTERNS: readonly [RegExp, (m: readonly string[]) => StoreKeyInfo][] = [
  [new RegExp(`^datasets/${ID}/manifest\\.json$`), (m) => ({ kind: 'datasetManifest', datasetId: m[1]! })],
  [new RegExp(`^datasets/${ID}/segment-(\\d{5,})\\.bin$`), (m) => ({ kind: 'datasetSegment', datasetId: m[1]!, segment: Number(m[2]) })],
  [new RegExp(`^jobs/${ID}/spec\\.json$`), (m) => ({ kind: 'jobSpec', jobId: m[1]! })],
  [new RegExp(`^jobs/${ID}/latest\\.json$`), (m) => ({ kind: 'jobLatest', jobId: m[1]! })],
  [
    new RegExp(`^jobs/${ID}/weights/${STEP}${TOKEN}\\.bin$`),
    (m) => ({ kind: 'weights', jobId: m[1]!, step: Number(m[2]), token: token(m[3]) }),
  ],
  [
    new RegExp(`^jobs/${ID}/checkpoints/${STEP}${TOKEN}/(weights\\.bin|optimizer\\.bin|manifest\\.json)$`),
    (m) => ({
      kind: 'checkpoint',
      jobId: m[1]!,
      step: Number(m[2]),
      token: token(m[3]),
      file: CHECKPOINT_FILES[m[4] as keyof typeof CHECKPOINT_FILES],
    }),
  ],
  [
    new RegExp(`^jobs/${ID}/grads/(\\d{${GENERATION_DIGITS}})/${STEP}/(\\d{${SHARD_DIGITS}})\\.bin$`),
    (m) => ({ kind: 'gradient', jobId: m[1]!, generation: Number(m[2]), step: Number(m[3]), shard: Number(m[4]) }),
  ],
  [
    new RegExp(`^jobs/${ID}/grads/(\\d{${GENERATION_DIGITS}})/${STEP}/r(\\d{${SHARD_DIGITS}})\\.bin$`),
    (m) => ({ kind: 'reducedGradient', jobId: m[1]!, generation: Number(m[2]), step: Number(m[3]), node: Number(m[4]) }),
  ],
  [
    new RegExp(`^jobs/${ID}/metrics/${STEP}${TOKEN}\\.jsonl$`),
    (m) => ({ kind: 'metricsChunk', jobId: m[1]!, firstStep: Number(m[2]), token: token(m[3]) }),
  ],
  [new RegExp(`^models/${NAME}/latest\\.json$`), (m) => ({ kind: 'modelLatest', name: m[1]! })],
  [new RegExp(`^models/${NAME}/best\\.json$`), (m) => ({ kind: 'modelBest', name: m[1]! })],
  [
    new RegExp(`^models/${NAME}/versions/(\\d{${VERSION_DIGITS}})/version\\.json$`),
    (m) => ({ kind: 'modelVersion', name: m[1]!, version: Number(m[2]) }),
  ],
  [new RegExp(`^models/${NAME}/production\\.json$`), (m) => ({ kind: 'modelProduction', name: m[1]! })],
  [new RegExp(`^schedules/${ID}\\.json$`), (m) => ({ kind: 'schedule', scheduleId: m[1]! })],
];

/**
 * What key is in the layout above, or null for keys outside it (for listings: every job's
 * latest.json, the steps of the weights kept, the chunks of metrics).
 */
export function parseStoreKey(key: string): StoreKeyInfo | null {
  for (const [pattern, read] of KEY_PATTERNS) {
    const match = pattern.exec(key);
    if (match !== null) return read(match);
  }
  return null;
}
