// JSON objects in the store, read through a zod schema: a corrupt or foreign object is a
// StoredObjectError naming the key and the field, never a cast.
import { firstIssue, issueLine } from '@lstm-runner/lstm-core';
import { ObjectNotFoundError, type ObjectStore } from '@lstm-runner/storage';
import type * as z from 'zod';
import { StoredObjectError } from './errors/stored-object-error';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The value of JSON text, checked against the schema; `location` names it in errors. */
export function parseStoredJson<S extends z.ZodType>(text: string, schema: S, location: string): z.output<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new StoredObjectError(location, `not valid JSON (${(error as Error).message})`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new StoredObjectError(location, issueLine(firstIssue(parsed.error), 'the object').text);
  return parsed.data;
}

export async function readStoredJson<S extends z.ZodType>(store: ObjectStore, key: string, schema: S): Promise<z.output<S>> {
  const location = `${store.url}/${key}`;
  let text: string;
  try {
    text = utf8.decode(await store.get(key));
  } catch (error) {
    if (error instanceof TypeError) throw new StoredObjectError(location, 'not UTF-8 text');
    throw error;
  }
  return parseStoredJson(text, schema, location);
}

/** The same, or null when there is no such object. */
export async function readStoredJsonIfExists<S extends z.ZodType>(store: ObjectStore, key: string, schema: S): Promise<z.output<S> | null> {
  try {
    return await readStoredJson(store, key, schema);
  } catch (error) {
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
}

export async function writeStoredJson(store: ObjectStore, key: string, value: unknown): Promise<void> {
  await store.put(key, `${JSON.stringify(value, null, 2)}\n`);
}
