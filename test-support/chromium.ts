// The browser the dashboard's end-to-end test drives (playwright-core, through executablePath).
import { accessSync, constants } from 'node:fs';

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
