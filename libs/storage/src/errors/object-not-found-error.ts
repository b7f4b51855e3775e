import { StoreError } from './store-error';
import type { StoreOperation } from '../object-store';

/** The key does not exist (code 'NotFound'). Never retried. */
export class ObjectNotFoundError extends StoreError {
  override readonly name = 'ObjectNotFoundError';

  constructor(operation: StoreOperation, key: string, storeUrl: string) {
    super({ operation, key, storeUrl, code: 'NotFound', transient: false, detail: 'no such object' });
  }
}
