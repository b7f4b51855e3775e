// The packed dataset format: datasets/<id>/segment-00000.bin ... and datasets/<id>/manifest.json,
// written last. Rows are fixed-size records, little-endian: a token id (uint8, uint16 or int32,
// the smallest that holds the vocabulary) for text; C float32 values (the normalized columns,
// row-major) for CSV. Every segment holds `rowsPerSegment` rows (the last one fewer) and its
// sha256 is in the manifest.
import { createHash } from 'node:crypto';
import type { EncodingSettings } from './data-spec';
import type { Normalization } from './normalization';
import type { SeriesRows } from './windows';
import type { TokenType } from './vocabulary';
import type { ObjectStore } from '@lstm-runner/storage';
import {
  booleanField,
  finiteNumber,
  firstIssue,
  fraction,
  issueLine,
  mapping,
  matching,
  nonEmptyString,
  nonNegativeInteger,
  oneOf,
  positiveInteger,
  tagged,
} from '@lstm-runner/lstm-core';
import * as z from 'zod';
import { DatasetFormatError } from './errors/dataset-format-error';

export const DATASET_FORMAT_VERSION = 1;

export interface SegmentEntry {
  /** Object name inside datasets/<id>/, e.g. "segment-00000.bin". */
  readonly name: string;
  readonly bytes: number;
  readonly startRow: number;
  readonly rows: number;
  readonly sha256: string;
}

export interface SeriesEntry extends SeriesRows {
  /** The seriesBy value of the series; null without seriesBy. */
  readonly name: string | null;
}

export interface TextEncoding {
  readonly lowercase: boolean;
  /** Character k has id k; id vocabulary.length is the unknown id. */
  readonly vocabulary: readonly string[];
  readonly unknownId: number;
  /** vocabulary.length + 1: the model's number of classes. */
  readonly vocabularySize: number;
  readonly tokenType: TokenType;
}

export interface CsvEncoding {
  /** The stored columns: the features, then the targets that are not features. */
  readonly columns: readonly string[];
  readonly features: readonly string[];
  readonly targets: readonly string[];
  readonly seriesBy: string | null;
  /** One entry per stored column, fitted on the training rows. */
  readonly normalization: Normalization;
}

interface ManifestBase {
  readonly formatVersion: typeof DATASET_FORMAT_VERSION;
  readonly datasetId: string;
  readonly source: { readonly name: string; readonly bytes: number; readonly sha256: string };
  readonly validation: number;
  readonly rows: { readonly total: number; readonly train: number; readonly validation: number };
  readonly series: readonly SeriesEntry[];
  readonly rowBytes: number;
  readonly rowsPerSegment: number;
  readonly segments: readonly SegmentEntry[];
}

export interface TextManifest extends ManifestBase {
  readonly kind: 'text';
  readonly text: TextEncoding;
}

export interface CsvManifest extends ManifestBase {
  readonly kind: 'csv';
  readonly csv: CsvEncoding;
}

export type DatasetManifest = TextManifest | CsvManifest;

/** Where packed datasets live in the store (the rest of the layout is libs/protocol's). */
export const DATASETS_PREFIX = 'datasets/';

export function datasetPrefix(datasetId: string): string {
  return `${DATASETS_PREFIX}${datasetId}/`;
}

export function datasetManifestKey(datasetId: string): string {
  return `${datasetPrefix(datasetId)}manifest.json`;
}

export function datasetSegmentName(index: number): string {
  return `segment-${String(index).padStart(5, '0')}.bin`;
}

/** JSON with object keys sorted, so equal settings always hash equal. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A vocabulary or normalization taken over from another dataset instead of being fitted. */
export type InheritedEncoding = { readonly vocabulary: readonly string[] } | { readonly normalization: Normalization };

/**
 * The dataset id: a hash of the source bytes' sha256, the encoding settings, an inherited
 * encoding if any, and the format version (never the window settings). Same content + same
 * settings = same id.
 */
export function datasetIdFor(sourceSha256: string, encoding: EncodingSettings, inherited?: InheritedEncoding): string {
  const digest = createHash('sha256')
    .update(canonicalJson({ formatVersion: DATASET_FORMAT_VERSION, source: sourceSha256, encoding, inherited }))
    .digest('hex');
  return `${encoding.format}-${digest.slice(0, 32)}`;
}

const count = (): z.ZodNumber => nonNegativeInteger();
const sha256 = (): z.ZodString => matching(/^[0-9a-f]{64}$/, 'a sha256 in hex');
const numbers = (): z.ZodArray<z.ZodNumber> => z.array(finiteNumber());

const normalizationSchema = tagged('method', [
  mapping({ method: z.literal('zscore'), mean: numbers(), std: numbers() }),
  mapping({ method: z.literal('minmax'), min: numbers(), max: numbers() }),
]);

const manifestBase = {
  formatVersion: z.literal(DATASET_FORMAT_VERSION),
  datasetId: nonEmptyString(),
  source: mapping({ name: nonEmptyString(), bytes: count(), sha256: sha256() }),
  validation: fraction(0, 1),
  rows: mapping({ total: count(), train: count(), validation: count() }),
  series: z.array(mapping({ name: z.string().nullable(), start: count(), rows: count(), trainRows: count() })),
  rowBytes: positiveInteger(),
  rowsPerSegment: positiveInteger(),
  segments: z.array(mapping({ name: nonEmptyString(), bytes: count(), startRow: count(), rows: count(), sha256: sha256() })),
};

const manifestSchema = tagged('kind', [
  mapping({
    ...manifestBase,
    kind: z.literal('text'),
    text: mapping({
      lowercase: booleanField(),
      vocabulary: z.array(z.string()),
      unknownId: count(),
      vocabularySize: positiveInteger(),
      tokenType: oneOf(['uint8', 'uint16', 'int32']),
    }),
  }),
  mapping({
    ...manifestBase,
    kind: z.literal('csv'),
    csv: mapping({
      columns: z.array(z.string()),
      features: z.array(z.string()),
      targets: z.array(z.string()),
      seriesBy: z.string().nullable(),
      normalization: normalizationSchema,
    }),
  }),
]) satisfies z.ZodType<DatasetManifest>;

/** Parses and checks a manifest's text; a DatasetFormatError naming `key` when it is not one this code reads. */
export function parseManifest(text: string, key: string): DatasetManifest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DatasetFormatError(key, `not valid JSON (${(error as Error).message})`);
  }
  // The version says which schema applies: a manifest of another format is not read as this one.
  const version = (value as { formatVersion?: unknown } | null)?.formatVersion;
  if (version !== DATASET_FORMAT_VERSION) {
    throw new DatasetFormatError(
      key,
      `dataset format version ${JSON.stringify(version)} is not supported (this version reads ${DATASET_FORMAT_VERSION})`,
    );
  }
  const parsed = manifestSchema.safeParse(value);
  if (!parsed.success) throw new DatasetFormatError(key, issueLine(firstIssue(parsed.error), 'the manifest').text);
  const m = parsed.data;
  let nextRow = 0;
  m.segments.forEach((segment, index) => {
    const rowsHere = index < m.segments.length - 1 ? m.rowsPerSegment : segment.rows;
    if (
      segment.startRow !== nextRow ||
      segment.rows !== rowsHere ||
      segment.rows > m.rowsPerSegment ||
      segment.bytes !== segment.rows * m.rowBytes ||
      segment.name !== datasetSegmentName(index)
    ) {
      throw new DatasetFormatError(key, `segment ${index} does not continue the row ranges and sizes of the segments before it`);
    }
    nextRow += segment.rows;
  });
  if (nextRow !== m.rows.total) throw new DatasetFormatError(key, `segments hold ${nextRow} rows, rows.total says ${m.rows.total}`);
  return m;
}

/** Loads datasets/<id>/manifest.json; a DatasetFormatError when it is missing or unreadable. */
export async function loadManifest(store: ObjectStore, datasetId: string): Promise<DatasetManifest> {
  const key = datasetManifestKey(datasetId);
  let bytes: Uint8Array;
  try {
    bytes = await store.get(key);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'NotFound')
      throw new DatasetFormatError(key, 'no such dataset (manifest not found); run `lstm prepare` first');
    throw error;
  }
  const manifest = parseManifest(new TextDecoder().decode(bytes), key);
  if (manifest.datasetId !== datasetId) throw new DatasetFormatError(key, `the manifest is of dataset ${manifest.datasetId}`);
  return manifest;
}
