// Fault injection, for tests and for drills against a real deployment (docs/operations.md): a
// store wrapper that makes chosen calls fail with a transient error or hang,
// to prove that failure handling works. openStore also reads a plan from LSTM_INJECT_STORE_FAULTS
// (JSON), so a test or an operator can make a process see storage failures, e.g.
//   LSTM_INJECT_STORE_FAULTS='{"failFirst":5,"match":"weights/","log":true}'
// openStore places these faults inside its retries, so they are retried like real ones;
// withFaults around a finished store makes them reach the caller.
import { StoreConfigError } from './errors/store-config-error';
import { StoreError } from './errors/store-error';
import type { ObjectStore, StoreOperation, VersionedObject } from './object-store';
import { Sleepers } from './sleepers';

export const INJECT_STORE_FAULTS_ENV = 'LSTM_INJECT_STORE_FAULTS';

/**
 * Which calls fail. A call is eligible once the plan has started (afterMs) and when it
 * matches (match, operations); an eligible call fails while fewer than failFirst faults were
 * injected or within failForMs of the start. With neither, every eligible call fails.
 * Counts and clocks are per wrapper, so per process.
 */
export interface FaultPlan {
  /** Fail the first N eligible calls. */
  readonly failFirst?: number;
  /** Fail every eligible call during this many ms after the start. */
  readonly failForMs?: number;
  /** The plan starts this many ms after the store is wrapped (default 0), or after startsAtMs. */
  readonly afterMs?: number;
  /**
   * The plan starts at this wall-clock time (ms since the epoch) instead of when the store is
   * wrapped: every process that reads one control file (see fault-control-file.ts) fails in
   * the same window, whenever it noticed the plan.
   */
  readonly startsAtMs?: number;
  /** Only calls whose key (for list: prefix) contains this string. */
  readonly match?: string;
  /** Only these operations (default: all). */
  readonly operations?: readonly StoreOperation[];
  /**
   * 'error' (default): fail at once with a transient StoreError (code 'InjectedFault').
   * 'hang': answer nothing for hangMs and then fail the same way, so that a caller's
   * per-attempt timeout fires first; hangMs defaults to "until the store is closed".
   */
  readonly mode?: 'error' | 'hang';
  readonly hangMs?: number;
  /** One line on stderr per injected fault, so a test can tell the faults did fire. */
  readonly log?: boolean;
}

const PLAN_FIELDS = new Set(['failFirst', 'failForMs', 'afterMs', 'startsAtMs', 'match', 'operations', 'mode', 'hangMs', 'log']);
const OPERATIONS: readonly StoreOperation[] = ['get', 'getRange', 'put', 'head', 'list', 'delete', 'getVersioned', 'putIfVersion'];

function fail(problem: string): never {
  throw new StoreConfigError(`fault plan: ${problem}`);
}

function checkCount(plan: Record<string, unknown>, field: string, allowInfinity: boolean): void {
  const value = plan[field];
  if (value === undefined) return;
  const valid = typeof value === 'number' && value >= 0 && (Number.isFinite(value) || (allowInfinity && value === Infinity));
  if (!valid) fail(`${field} must be a non-negative number, got ${JSON.stringify(value)}`);
}

/** Checks a plan from code or JSON: unknown fields are errors, so a typo cannot disarm a test. */
export function validateFaultPlan(plan: unknown): FaultPlan {
  if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) fail('must be an object');
  const fields = plan as Record<string, unknown>;
  for (const field of Object.keys(fields)) {
    if (!PLAN_FIELDS.has(field)) fail(`unknown field '${field}' (known: ${[...PLAN_FIELDS].join(', ')})`);
  }
  checkCount(fields, 'failFirst', false);
  if (fields.failFirst !== undefined && !Number.isInteger(fields.failFirst)) fail('failFirst must be an integer');
  checkCount(fields, 'failForMs', false);
  checkCount(fields, 'afterMs', false);
  checkCount(fields, 'startsAtMs', false);
  checkCount(fields, 'hangMs', true);
  if (fields.match !== undefined && typeof fields.match !== 'string') fail('match must be a string');
  if (fields.operations !== undefined) {
    const operations = fields.operations;
    if (!Array.isArray(operations) || operations.some((op) => !OPERATIONS.includes(op as StoreOperation))) {
      fail(`operations must be a list of ${OPERATIONS.join(', ')}`);
    }
  }
  if (fields.mode !== undefined && fields.mode !== 'error' && fields.mode !== 'hang') fail("mode must be 'error' or 'hang'");
  if (fields.log !== undefined && typeof fields.log !== 'boolean') fail('log must be true or false');
  return plan as FaultPlan;
}

/** The plan in env[INJECT_STORE_FAULTS_ENV], or undefined when it is unset or empty. */
export function faultPlanFromEnv(env: Readonly<Record<string, string | undefined>>): FaultPlan | undefined {
  const text = env[INJECT_STORE_FAULTS_ENV];
  if (text === undefined || text.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StoreConfigError(`${INJECT_STORE_FAULTS_ENV} is not valid JSON: ${(error as Error).message}`);
  }
  return validateFaultPlan(parsed);
}

export class FaultyStore implements ObjectStore {
  private injected = 0;
  private readonly startsAt: number;
  /** The hanging calls; close() ends them. */
  private readonly hanging = new Sleepers();

  constructor(
    private readonly inner: ObjectStore,
    private readonly plan: FaultPlan,
  ) {
    this.startsAt = (plan.startsAtMs ?? Date.now()) + (plan.afterMs ?? 0);
  }

  /** How many faults this wrapper injected so far. */
  get injectedFaults(): number {
    return this.injected;
  }

  get url(): string {
    return this.inner.url;
  }

  async get(key: string): Promise<Uint8Array> {
    await this.maybeFail('get', key);
    return this.inner.get(key);
  }

  async getRange(key: string, start: number, end: number): Promise<Uint8Array> {
    await this.maybeFail('getRange', key);
    return this.inner.getRange(key, start, end);
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    await this.maybeFail('put', key);
    return this.inner.put(key, body);
  }

  async getVersioned(key: string): Promise<VersionedObject | null> {
    await this.maybeFail('getVersioned', key);
    return this.inner.getVersioned(key);
  }

  async putIfVersion(key: string, body: Uint8Array | string, expected: string | null): Promise<boolean> {
    await this.maybeFail('putIfVersion', key);
    return this.inner.putIfVersion(key, body, expected);
  }

  async head(key: string): Promise<{ size: number } | null> {
    await this.maybeFail('head', key);
    return this.inner.head(key);
  }

  async list(prefix: string): Promise<string[]> {
    await this.maybeFail('list', prefix);
    return this.inner.list(prefix);
  }

  async delete(key: string): Promise<void> {
    await this.maybeFail('delete', key);
    return this.inner.delete(key);
  }

  async close(): Promise<void> {
    this.endHangs();
    await this.inner.close();
  }

  /** Ends the calls that hang now (they fail), leaving the inner store open. */
  endHangs(): void {
    this.hanging.wakeAll();
  }

  private shouldFail(operation: StoreOperation, key: string): boolean {
    const { plan } = this;
    const now = Date.now();
    if (now < this.startsAt) return false;
    if (plan.match !== undefined && !key.includes(plan.match)) return false;
    if (plan.operations !== undefined && !plan.operations.includes(operation)) return false;
    if (plan.failFirst === undefined && plan.failForMs === undefined) return true;
    return this.injected < (plan.failFirst ?? 0) || now < this.startsAt + (plan.failForMs ?? 0);
  }

  private async maybeFail(operation: StoreOperation, key: string): Promise<void> {
    if (!this.shouldFail(operation, key)) return;
    this.injected += 1;
    const number = this.injected;
    const mode = this.plan.mode ?? 'error';
    if (this.plan.log === true) {
      process.stderr.write(`lstm-store-faults: injected ${mode} #${number} into ${operation} '${key}' (pid ${process.pid})\n`);
    }
    if (mode === 'hang') await this.hanging.sleep(this.plan.hangMs ?? Infinity);
    const detail = mode === 'hang' ? `injected hang #${number} ended` : `injected fault #${number}`;
    throw new StoreError({ operation, key, storeUrl: this.url, code: 'InjectedFault', transient: true, detail });
  }
}

/**
 * Wraps store so that the calls plan picks fail (a testing aid, see FaultPlan). The result
 * counts what it injected in injectedFaults.
 */
export function withFaults(store: ObjectStore, plan: FaultPlan): FaultyStore {
  return new FaultyStore(store, validateFaultPlan(plan));
}
