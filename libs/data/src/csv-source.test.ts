import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileChunks } from './byte-source';
import { readCsv } from './csv-source';
import { DataError } from './errors/data-error';
import { BIRTHS_CSV } from '../../../test-support/dataset-fixtures';

const dir = mkdtempSync(join(tmpdir(), 'csv-source-'));
let files = 0;

async function read(text: string | Uint8Array, columns: string[], seriesBy?: string) {
  const path = join(dir, `f${files++}.csv`);
  writeFileSync(path, text);
  const rows: { values: number[]; series: string | undefined; line: number }[] = [];
  const result = await readCsv(readFileChunks(path), 'data.csv', { columns, ...(seriesBy ? { seriesBy } : {}) }, (values, series, line) =>
    rows.push({ values: [...values], series, line }),
  );
  return { ...result, rows };
}

async function failure(text: string, columns: string[]): Promise<DataError> {
  const error = await read(text, columns).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DataError);
  return error as DataError;
}

describe('readCsv', () => {
  it('reads the selected columns of real data in order', async () => {
    const rows: number[][] = [];
    const { header, rows: count } = await readCsv(readFileChunks(BIRTHS_CSV), 'births.csv', { columns: ['births', 'day_of_week'] }, (v) =>
      rows.push([...v]),
    );
    expect(header).toEqual(['year', 'month', 'date_of_month', 'day_of_week', 'births']);
    expect(count).toBe(5479);
    expect(rows[0]).toEqual([9083, 6]);
    expect(rows[2]).toEqual([11363, 1]);
  });

  it('accepts a BOM and CRLF line endings, skips blank lines, reports 1-based lines', async () => {
    const { rows, header } = await read('\ufeffa,b\r\n1,2\r\n\r\n 3 ,-4.5e1\r\n', ['b', 'a']);
    expect(header).toEqual(['a', 'b']);
    expect(rows).toEqual([
      { values: [2, 1], series: undefined, line: 2 },
      { values: [-45, 3], series: undefined, line: 4 },
    ]);
  });

  it('passes the seriesBy cell along', async () => {
    const { rows } = await read('id,x\nm1,1\nm1,2\nm2,3\n', ['x'], 'id');
    expect(rows.map((r) => r.series)).toEqual(['m1', 'm1', 'm2']);
  });

  it('names file, line, column and value of a non-numeric cell', async () => {
    const error = await failure('a,b\n1,2\n3,12a\n', ['a', 'b']);
    expect(error.message).toBe('data.csv:3: column "b": "12a" is not a number');
    expect([error.file, error.line, error.column, error.value]).toEqual(['data.csv', 3, 'b', '12a']);
  });

  it('counts lines of quoted multi-line fields from where the record starts', async () => {
    const error = await failure('note,x\n"two\nlines",1\nok,x1\n', ['x']);
    expect(error.message).toBe('data.csv:4: column "x": "x1" is not a number');
  });

  it.each([['NaN'], ['Infinity'], ['-inf'], ['nan']])('rejects %s', async (value) => {
    const error = await failure(`a\n1\n${value}\n`, ['a']);
    expect(error.message).toBe(`data.csv:3: column "a": "${value}" is not allowed (numbers must be finite)`);
  });

  it.each([['0x10'], ['1,5'], ['1e999'], ['']])('rejects the cell %j', async (value) => {
    const error = await failure(`a,b\n1,1\n"${value}",1\n`, ['a']);
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/^data\.csv:3: column "a": /);
  });

  it('rejects a ragged row', async () => {
    const error = await failure('a,b,c\n1,2,3\n4,5\n', ['a']);
    expect(error.message).toBe('data.csv:3: expected 3 fields as in the header, got 2');
  });

  it('lists the existing columns when a named one is missing', async () => {
    const error = await failure('year,births\n2000,1\n', ['birth']);
    expect(error.message).toBe('data.csv:1: no column "birth" in the header; the columns are: year, births');
  });

  it('rejects an empty file and a header without rows', async () => {
    expect((await failure('', ['a'])).message).toBe('data.csv: file is empty');
    expect((await failure('a,b\r\n', ['a'])).message).toBe('data.csv: no data rows after the header');
  });

  it('reports malformed quoting with its line', async () => {
    const error = await failure('a\n1\n"2\n', ['a']);
    expect(error.message).toMatch(/^data\.csv(:\d+)?: malformed CSV: /);
  });
});
