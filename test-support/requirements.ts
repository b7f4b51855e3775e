// Tests that need something the machine may lack (the native addon, a browser) skip with
// one line saying why, or fail instead when CI requires it: LSTM_REQUIRE_NATIVE=1,
// LSTM_REQUIRE_BROWSER=1 (set by .ci/run).

import { describe, it } from 'vitest';

export type RequirementKind = 'native' | 'browser';

/** What a requirement's own check says, e.g. lstm-native's nativeAvailability(). */
export interface Availability {
  readonly available: boolean;
  /** One line: why not. */
  readonly reason?: string;
}

/** The variable that turns a skip into a failure, e.g. LSTM_REQUIRE_NATIVE. */
export function requirementVariable(kind: RequirementKind): string {
  return `LSTM_REQUIRE_${kind.toUpperCase()}`;
}

export function isRequired(kind: RequirementKind): boolean {
  return process.env[requirementVariable(kind)] === '1';
}

/**
 * True when the tests that need `kind` may run. Otherwise they skip, with that one line
 * printed, or, when the requirement is set, this throws, failing the file.
 */
export function requirementMet(kind: RequirementKind, availability: Availability): boolean {
  if (availability.available) return true;
  const reason = `${kind} unavailable: ${availability.reason ?? 'no reason given'}`;
  if (isRequired(kind)) throw new Error(`${requirementVariable(kind)}=1 and ${reason}`);
  process.stderr.write(`skipping the ${kind} tests: ${reason} (${requirementVariable(kind)}=1 makes this a failure)\n`);
  return false;
}

/**
 * A describe for suites that need `kind`: with it available, plain describe. Without, the
 * suites' bodies are not registered; the first describe registers one test instead, skipped
 * with a note that says why (and prints that line: the default reporter shows no notes), or
 * failing with that reason when the requirement is set.
 */
export function describeIfAvailable(kind: RequirementKind, availability: Availability): (name: string, body: () => void) => void {
  if (availability.available) return (name, body) => describe(name, body);
  const reason = `${kind} unavailable: ${availability.reason ?? 'no reason given'}`;
  let reported = false;
  return (name) => {
    if (reported) return;
    reported = true;
    describe(name, () => {
      if (isRequired(kind)) {
        it(`needs ${kind}`, () => {
          throw new Error(`${requirementVariable(kind)}=1 and ${reason}`);
        });
      } else {
        process.stderr.write(`skipped '${name}': ${reason}\n`);
        it(`needs ${kind} (skipped)`, (context) => context.skip(reason));
      }
    });
  };
}
