// The building blocks of every zod schema lstm-runner reads documents with (job specs, model
// specs, records in the store, export files). Each field's message says what was expected and
// what came, in one wording everywhere: `must be a positive integer, got 0`, `is required`.
// issueLine() turns the first issue into one line that names the field.
import * as z from 'zod';

/** A value as messages show it: `nothing`, `null`, `"text"`, `3`, `a list [...]`, `a mapping {...}`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return `a list ${truncate(JSON.stringify(value))}`;
  if (typeof value === 'object') return `a mapping ${truncate(JSON.stringify(value))}`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** The error option of a zod schema or check: `is required` for a missing value, else `must be <what>, got <value>`. */
export function expecting(what: string): { error: (issue: { readonly input?: unknown }) => string } {
  return { error: (issue) => (issue.input === undefined ? 'is required' : `must be ${what}, got ${describeValue(issue.input)}`) };
}

export function positiveInteger(): z.ZodNumber {
  const what = expecting('a positive integer');
  return z.number(what).int(what).min(1, what);
}

export function nonNegativeInteger(): z.ZodNumber {
  const what = expecting('a non-negative integer');
  return z.number(what).int(what).min(0, what);
}

/** An integer in [low, high]. */
export function integerIn(low: number, high: number): z.ZodNumber {
  const what = expecting(`an integer in [${low}, ${high}]`);
  return z.number(what).int(what).min(low, what).max(high, what);
}

export function positiveNumber(): z.ZodNumber {
  const what = expecting('a positive number');
  return z.number(what).positive(what);
}

export function finiteNumber(): z.ZodNumber {
  return z.number(expecting('a finite number'));
}

/** A number in [low, high). */
export function fraction(low: number, high: number): z.ZodNumber {
  const what = expecting(`a number in [${low}, ${high})`);
  return z.number(what).gte(low, what).lt(high, what);
}

export function nonEmptyString(): z.ZodString {
  const what = expecting('a non-empty string');
  return z.string(what).refine((text) => text.trim() !== '', what);
}

/** A string matching `pattern`; `what` describes the pattern in words. */
export function matching(pattern: RegExp, what: string): z.ZodString {
  const expected = expecting(what);
  return z.string(expected).regex(pattern, expected);
}

export function oneOf<const T extends readonly [string, ...string[]]>(choices: T): z.ZodEnum<{ [K in T[number]]: K }> {
  return z.enum(choices, expecting(`one of ${choices.join(', ')}`));
}

export function booleanField(): z.ZodBoolean {
  return z.boolean(expecting('true or false'));
}

/**
 * An object with exactly these fields. An unknown field is an issue whose message lists the
 * fields that exist (issueLine words it); anything but an object `must be a mapping of fields`.
 */
export function mapping<S extends z.ZodRawShape>(shape: S): z.ZodObject<S, z.core.$strict> {
  const fields = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys') return `its fields are: ${fields}`;
      return issue.input === undefined ? 'is required' : `must be a mapping of fields, got ${describeValue(issue.input)}`;
    },
  });
}

/**
 * A union of mappings told apart by the field `key` (e.g. `kind`); any other value of it
 * `must be one of` the options.
 */
export function tagged<const Options extends readonly [z.core.$ZodTypeDiscriminable, ...z.core.$ZodTypeDiscriminable[]]>(
  key: string,
  options: Options,
): z.ZodDiscriminatedUnion<Options> {
  return z.discriminatedUnion(key, options, {
    error: (issue) => {
      if (issue.code === 'invalid_union') {
        const choices = (issue as { options?: readonly unknown[] }).options ?? [];
        const value = (issue.input as Record<string, unknown> | undefined)?.[key];
        return `must be one of ${choices.map(String).join(', ')}, got ${describeValue(value)}`;
      }
      return issue.input === undefined ? 'is required' : `must be a mapping of fields, got ${describeValue(issue.input)}`;
    },
  });
}

/** A non-empty list; `what` describes it (`a non-empty list of column names`). */
export function nonEmptyList<T extends z.ZodType>(item: T, what: string): z.ZodArray<T> {
  const expected = expecting(what);
  return z.array(item, expected).min(1, expected);
}
