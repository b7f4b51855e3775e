import { StoreError } from './store-error';
import type { StoreOperation } from '../object-store';

/** A key (or list prefix) outside the key rules of keys.ts. Never retried. */
export class InvalidKeyError extends StoreError {
  override readonly name = 'InvalidKeyError';
  readonly reason: string;

  constructor(operation: StoreOperation, key: string, storeUrl: string, reason: string) {
    super({ operation, key, storeUrl, code: 'InvalidKey', transient: false, detail: `invalid key: ${reason}` });
    this.reason = reason;
  }
}
