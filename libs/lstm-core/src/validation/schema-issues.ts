// One line from a zod issue: the field's path, then what is wrong with it. Every reader of
// documents (specs, stored records, export files) reports its first issue this way.
import type * as z from 'zod';

/** `data.window.lookBack`, `model.layers[1]`; '' for the document itself. */
export function issuePath(path: readonly PropertyKey[]): string {
  let text = '';
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`;
    else text += text === '' ? String(key) : `.${String(key)}`;
  }
  return text;
}

export interface IssueLine {
  /** The field the issue is about ('' for the document itself). */
  readonly path: string;
  /** What is wrong, without the path: `must be a positive integer, got 0`. */
  readonly message: string;
  /** `<path> <message>`, with `root` standing for the document itself. */
  readonly text: string;
}

/** The issue as one line; `root` names the document (`the spec`, `(root)`). */
export function issueLine(issue: z.core.$ZodIssue, root: string): IssueLine {
  const at = issuePath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '?';
    const path = at === '' ? key : `${at}.${key}`;
    const message = `is not a field of ${at === '' ? root : at}; ${issue.message}`;
    return { path, message, text: `${path} ${message}` };
  }
  return { path: at, message: issue.message, text: `${at === '' ? root : at} ${issue.message}` };
}

/** The first issue of a failed parse (zod reports them in the order of the schema's fields). */
export function firstIssue(error: z.ZodError): z.core.$ZodIssue {
  const issue = error.issues[0];
  if (issue === undefined) throw new Error('a failed parse without issues');
  return issue;
}
