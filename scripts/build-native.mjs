#!/usr/bin/env node
// Builds the native backend's addons (libs/lstm-native: oneDNN through node-gyp). Runs as the
// root package's postinstall, so `npm ci` builds them where a C++ compiler, make and oneDNN's
// headers (Debian: g++ make libdnnl-dev) are present. Where something is missing it prints
// one line saying what, records it for the backend to report (build/status.json) and exits
// 0: `npm ci` succeeds and the 'native' backend says why it is unavailable.
// `npm run build:native` runs it again (after installing what was missing).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'libs', 'lstm-native');
const BUILD_DIR = join(PACKAGE_DIR, 'build');
const INSTALL_HINT = 'apt-get install g++ make libdnnl-dev, then npm run build:native';

const runs = (command, args, input) =>
  spawnSync(command, args, { input, stdio: input === undefined ? 'ignore' : ['pipe', 'ignore', 'ignore'] }).status === 0;

/** node-gyp: the one npm runs scripts with, else the one bundled with npm next to this node. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((candidate) => candidate !== undefined && existsSync(candidate));
}

/** Why the addon cannot be built here, or null. */
function missingPrerequisite(compiler, nodeDir, gyp) {
  if (!runs(compiler, ['--version'])) return `no C++ compiler (${compiler}) is installed (${INSTALL_HINT})`;
  if (!runs('make', ['--version'])) return `make is not installed (${INSTALL_HINT})`;
  if (!runs(compiler, ['-x', 'c++', '-E', '-'], '#include <oneapi/dnnl/dnnl.hpp>\n'))
    return `oneDNN's headers are not installed (${INSTALL_HINT})`;
  if (!existsSync(join(nodeDir, 'include', 'node', 'node_api.h')))
    return `Node's headers are not in ${join(nodeDir, 'include', 'node')} (node-gyp cannot download them here)`;
  if (gyp === undefined) return 'node-gyp was not found (it comes with npm)';
  return null;
}

function finish(status, log) {
  // Nothing of an earlier build (an addon, its log) may outlive a failed one.
  if (!status.built) rmSync(BUILD_DIR, { recursive: true, force: true });
  mkdirSync(BUILD_DIR, { recursive: true });
  writeFileSync(join(BUILD_DIR, 'status.json'), `${JSON.stringify(status, null, 2)}\n`);
  if (log !== undefined) writeFileSync(join(BUILD_DIR, 'build.log'), log);
  if (status.built) console.log(`lstm-native: built the oneDNN addon in ${status.seconds} s`);
  else console.log(`lstm-native: the native backend is unavailable: ${status.reason}`);
}

const started = performance.now();
const compiler = process.env.CXX ?? 'g++';
// Node's own headers, next to this node (Debian: /usr/include/node): no download.
const nodeDir = resolve(dirname(process.execPath), '..');
const gyp = nodeGyp();
const missing = missingPrerequisite(compiler, nodeDir, gyp);
if (missing !== null) {
  finish({ built: false, reason: missing });
} else {
  const build = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodeDir}`], {
    cwd: PACKAGE_DIR,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const log = `${build.stdout ?? ''}${build.stderr ?? ''}`;
  const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
  if (build.status === 0) finish({ built: true, seconds }, log);
  else {
    const firstError =
      log
        .split('\n')
        .find((line) => /error/i.test(line))
        ?.trim() ?? `node-gyp exited with ${build.status ?? build.signal}`;
    finish({ built: false, reason: `the build failed: ${firstError} (libs/lstm-native/build/build.log has the rest)` }, log);
  }
}
