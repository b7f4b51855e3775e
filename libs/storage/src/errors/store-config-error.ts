/**
 * A store URL, option or fault plan that cannot be used. The message never repeats a URL
 * that might carry credentials.
 */
export class StoreConfigError extends Error {
  override readonly name = 'StoreConfigError';
}
