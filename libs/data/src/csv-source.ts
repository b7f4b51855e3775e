// Streaming, strict CSV reading (csv-parse): a header row, then data rows of numbers in the
// selected columns. Lines count from 1 with the header as line 1; a quoted field spanning
// lines is reported at the line it starts on. A UTF-8 BOM and CRLF line endings are accepted;
// blank lines are skipped. A number is an optional sign, digits with an optional fraction and
// exponent, with spaces around it allowed; NaN, Infinity, empty cells and anything else are
// errors. Columns that are not selected are not checked beyond the field count.
import { parse, CsvError } from 'csv-parse';
import { Readable } from 'node:stream';
import { DataError } from './errors/data-error';

export interface CsvColumnSelection {
  /** Columns read as numbers, in this order. */
  readonly columns: readonly string[];
  /** A column read as text whose change of value starts a new series. */
  readonly seriesBy?: string;
}

export interface CsvRowSink {
  /**
   * One data row: `values` holds the selected columns (reused between calls: copy what you
   * keep); `seriesKey` is the seriesBy cell, or undefined without seriesBy.
   */
  (values: Float64Array, seriesKey: string | undefined, line: number): void;
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const NOT_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

function parseCell(raw: string, file: string, line: number, column: string): number {
  const text = raw.trim();
  const fail = (detail: string): never => {
    throw new DataError(`column "${column}": ${detail}`, { file, line, column, value: raw });
  };
  if (text === '') return fail('empty cell, a number is needed');
  if (NOT_FINITE.test(text)) return fail(`${JSON.stringify(raw)} is not allowed (numbers must be finite)`);
  if (!NUMBER.test(text)) return fail(`${JSON.stringify(raw)} is not a number`);
  const value = Number(text);
  if (!Number.isFinite(value)) return fail(`${JSON.stringify(raw)} is out of range`);
  return value;
}

function columnIndex(header: readonly string[], name: string, file: string): number {
  const index = header.indexOf(name);
  if (index < 0) {
    throw new DataError(`no column "${name}" in the header; the columns are: ${header.join(', ')}`, { file, line: 1, column: name });
  }
  if (header.indexOf(name, index + 1) >= 0) {
    throw new DataError(`column "${name}" appears more than once in the header`, { file, line: 1, column: name });
  }
  return index;
}

/** Reads every data row of a CSV byte stream; returns the header and the number of data rows. */
export async function readCsv(
  chunks: AsyncIterable<Uint8Array>,
  file: string,
  selection: CsvColumnSelection,
  onRow: CsvRowSink,
): Promise<{ header: string[]; rows: number }> {
  const parser = parse({ bom: true, info: true, relax_column_count: true, skip_empty_lines: false });
  const input = Readable.from(chunks);
  input.on('error', (error) => parser.destroy(error));
  input.pipe(parser);

  let header: string[] | undefined;
  let selected: number[] = [];
  let seriesIndex = -1;
  const values = new Float64Array(selection.columns.length);
  let rows = 0;
  let previousEndLine = 0;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = previousEndLine + 1;
      previousEndLine = info.lines;
      if (record.length === 1 && record[0] === '') continue; // a blank line
      if (header === undefined) {
        header = record;
        selected = selection.columns.map((name) => columnIndex(record, name, file));
        if (selection.seriesBy !== undefined) seriesIndex = columnIndex(record, selection.seriesBy, file);
        continue;
      }
      if (record.length !== header.length) {
        throw new DataError(`expected ${header.length} fields as in the header, got ${record.length}`, { file, line });
      }
      for (let c = 0; c < selected.length; c++) {
        values[c] = parseCell(record[selected[c]!]!, file, line, selection.columns[c]!);
      }
      onRow(values, seriesIndex < 0 ? undefined : record[seriesIndex], line);
      rows++;
    }
  } catch (error) {
    if (error instanceof CsvError) {
      const line = typeof error['lines'] === 'number' ? error['lines'] : undefined;
      throw new DataError(`malformed CSV: ${error.message}`, line === undefined ? { file } : { file, line }, { cause: error });
    }
    throw error;
  } finally {
    input.destroy();
  }
  if (header === undefined) throw new DataError('file is empty', { file });
  if (rows === 0) throw new DataError('no data rows after the header', { file });
  return { header, rows };
}
