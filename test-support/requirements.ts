// Tests that need something a user's machine may lack (a native library, a browser) skip
// with one line saying why; CI sets LSTM_REQUIRE_<KIND>=1 and such a skip fails instead.
import { accessSync, constants } from 'node:fs';

export type RequirementKind = 'native' | 'browser';

/**
 * True when the tests may run. `whyMissing` is null when what they need is there, else one
 * line saying what is missing: then the tests skip (that line printed once), or, under
 * LSTM_REQUIRE_<KIND>=1, this throws, failing the file.
 */
export function requirementMet(kind: RequirementKind, whyMissing: string | null, env: NodeJS.ProcessEnv = process.env): boolean {
  if (whyMissing === null) return true;
  const variable = `LSTM_REQUIRE_${kind.toUpperCase()}`;
  if (env[variable] === '1') throw new Error(`${variable}=1 but ${whyMissing}`);
  process.stderr.write(`skipping the ${kind} tests: ${whyMissing} (${variable}=1 makes this a failure)\n`);
  return false;
}

/** Chromium for browser tests: LSTM_CHROMIUM, else Debian's. */
export const CHROMIUM_CANDIDATES = [process.env['LSTM_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
  (path): path is string => path !== undefined && path !== '',
);

/** The first executable chromium, or null. */
export function findChromium(): string | null {
  for (const path of CHROMIUM_CANDIDATES) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not this one
    }
  }
  return null;
}

/** The flags a test browser starts with: headless, nothing in the background that reaches the network. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
