/**
 * A job spec that cannot be used. The message is one line: the file, then the line for a
 * syntax error (`spec.yaml:4:3: ...`) or the field path for a bad value
 * (`spec.yaml: training.batchSize must be a positive integer, got 0`).
 */
export class SpecError extends Error {
  override readonly name = 'SpecError';
  readonly file: string;
  /** The field path (e.g. `data.window.lookBack`); undefined for syntax and file errors. */
  readonly path: string | undefined;
  /** The 1-based line of a syntax error. */
  readonly line: number | undefined;

  constructor(file: string, message: string, where: { path?: string; line?: number; column?: number } = {}, options?: { cause?: unknown }) {
    const location =
      where.line === undefined ? file : where.column === undefined ? `${file}:${where.line}` : `${file}:${where.line}:${where.column}`;
    super(`${location}: ${where.path === undefined ? '' : `${where.path} `}${message}`, options);
    this.file = file;
    this.path = where.path;
    this.line = where.line;
  }
}
