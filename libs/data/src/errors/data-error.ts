/**
 * Bad input data: a missing or unreadable source, a malformed CSV cell, text that is not UTF-8,
 * too few rows for the windows. The message is one line that names the file and, where there
 * is one, the line (1-based, the CSV header is line 1), the column and the offending value.
 */
export class DataError extends Error {
  override readonly name = 'DataError';
  readonly file: string;
  readonly line: number | undefined;
  readonly column: string | undefined;
  readonly value: string | undefined;

  constructor(message: string, location: { file: string; line?: number; column?: string; value?: string }, options?: { cause?: unknown }) {
    const where = location.line === undefined ? location.file : `${location.file}:${location.line}`;
    super(`${where}: ${message}`, options);
    this.file = location.file;
    this.line = location.line;
    this.column = location.column;
    this.value = location.value;
  }
}
