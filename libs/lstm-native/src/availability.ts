// Whether the addon is built here, and why not, without loading it: the build script
// (scripts/build-native.mjs, run by `npm ci`) records its outcome next to the addons.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BUILD_DIRECTORY = fileURLToPath(new URL('../build/', import.meta.url));

/** The two addons: process_env sets the environment oneDNN and OpenMP read when they load;
 * lstm_native is oneDNN's side of the backend. */
export const ADDON_FILES = {
  processEnv: join(BUILD_DIRECTORY, 'Release', 'process_env.node'),
  oneDnn: join(BUILD_DIRECTORY, 'Release', 'lstm_native.node'),
} as const;

export type NativeAvailability = { readonly available: true } | { readonly available: false; readonly reason: string };

const NOT_BUILT =
  'the addon is not built: `npm ci` builds it where g++, make and libdnnl-dev are installed (apt-get install g++ make libdnnl-dev, then npm run build:native)';

/** Whether both addons are built; when not, the build's one-line reason. Loads nothing. */
export function nativeAvailability(): NativeAvailability {
  const status = readBuildStatus();
  if (status !== null && !status.built) return { available: false, reason: status.reason ?? NOT_BUILT };
  if (!existsSync(ADDON_FILES.processEnv) || !existsSync(ADDON_FILES.oneDnn)) return { available: false, reason: NOT_BUILT };
  return { available: true };
}

interface BuildStatus {
  readonly built: boolean;
  readonly reason?: string;
}

function readBuildStatus(): BuildStatus | null {
  try {
    const status = JSON.parse(readFileSync(join(BUILD_DIRECTORY, 'status.json'), 'utf8')) as Partial<BuildStatus>;
    return typeof status.built === 'boolean'
      ? { built: status.built, ...(typeof status.reason === 'string' ? { reason: status.reason } : {}) }
      : null;
  } catch {
    return null;
  }
}
