// Encoding for inference, with the encoding a dataset was prepared with: CSV rows -> normalized
// feature windows, and predictions back to original units. (Text: encodeText and decodeTokens
// in vocabulary.ts.)
import type { ByteSource } from './byte-source';
import { readFileChunks, statSourceFile } from './byte-source';
import { readCsv } from './csv-source';
import type { CsvEncoding } from './manifest';
import { affineColumns, denormalizeRows, selectColumns, type Normalization } from './normalization';

/** Numeric columns of a CSV file in original units, row-major [rows, columns.length]. */
export interface CsvTable {
  readonly columns: readonly string[];
  readonly rows: number;
  readonly values: Float64Array;
}

/** Reads the named columns of a CSV with the same strict rules (and errors) as prepare. */
export async function readCsvTable(source: ByteSource, columns: readonly string[]): Promise<CsvTable> {
  let chunks: AsyncIterable<Uint8Array>;
  if ('path' in source) {
    await statSourceFile(source.path, source.name);
    chunks = readFileChunks(source.path);
  } else {
    chunks = source.stream;
  }
  let values = new Float64Array(1024 * columns.length);
  let rows = 0;
  await readCsv(chunks, source.name, { columns }, (row) => {
    if ((rows + 1) * columns.length > values.length) {
      const bigger = new Float64Array(values.length * 2);
      bigger.set(values);
      values = bigger;
    }
    values.set(row, rows * columns.length);
    rows++;
  });
  return { columns: [...columns], rows, values: values.slice(0, rows * columns.length) };
}

function columnIndices(encoding: CsvEncoding, names: readonly string[]): number[] {
  return names.map((name) => encoding.columns.indexOf(name));
}

/** The normalization of the model's inputs, in `features` order. */
export function featureNormalization(encoding: CsvEncoding): Normalization {
  return selectColumns(encoding.normalization, columnIndices(encoding, encoding.features));
}

/** The normalization of the model's outputs, in `targets` order. */
export function targetNormalization(encoding: CsvEncoding): Normalization {
  return selectColumns(encoding.normalization, columnIndices(encoding, encoding.targets));
}

/**
 * Normalized input windows [B, lookBack, I] (I = the encoding's features), window b covering
 * table rows [firstRows[b], firstRows[b] + lookBack).
 */
export function featureWindows(table: CsvTable, encoding: CsvEncoding, lookBack: number, firstRows: readonly number[]): Float32Array {
  const I = encoding.features.length;
  const tableColumns = encoding.features.map((name) => {
    const index = table.columns.indexOf(name);
    if (index < 0) throw new RangeError(`the table has no column "${name}" (it has: ${table.columns.join(', ')})`);
    return index;
  });
  const { shift, scale } = affineColumns(featureNormalization(encoding));
  const C = table.columns.length;
  const out = new Float32Array(firstRows.length * lookBack * I);
  firstRows.forEach((first, b) => {
    if (!Number.isInteger(first) || first < 0 || first + lookBack > table.rows) {
      throw new RangeError(`a window of ${lookBack} rows starting at row ${first} does not fit in ${table.rows} rows`);
    }
    for (let t = 0; t < lookBack; t++) {
      for (let i = 0; i < I; i++) {
        out[(b * lookBack + t) * I + i] = (table.values[(first + t) * C + tableColumns[i]!]! - shift[i]!) / scale[i]!;
      }
    }
  });
  return out;
}

/** Model outputs [B, K] (normalized) -> original units, K = the encoding's targets. */
export function denormalizeTargets(values: ArrayLike<number>, encoding: CsvEncoding): Float64Array {
  return denormalizeRows(values, targetNormalization(encoding));
}
