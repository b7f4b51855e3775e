/**
 * An object in the store that is not what its key promises: not JSON, or a field that is
 * missing or wrong (a corrupt write, a hand edit, a file of another release). The message
 * names the object and the field: `file:///s/jobs/j/latest.json: state must be one of ...`.
 */
export class StoredObjectError extends Error {
  override readonly name = 'StoredObjectError';

  constructor(
    /** The object's URL: the store's URL and the key. */
    readonly location: string,
    detail: string,
  ) {
    super(`${location}: ${detail}`);
  }
}
