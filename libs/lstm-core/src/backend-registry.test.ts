import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ComputeBackend } from './backend';
import { createReferenceBackend } from './reference';
import { BackendUnavailableError } from './errors/backend-unavailable-error';
import { NoBackendAvailableError } from './errors/no-backend-available-error';
import { BackendRegistry, DEFAULT_AUTO_ORDER } from './backend-registry';
import { createTfjsBackend, registerTfjsBackends } from './tfjs/tfjs-backend';
import { UnknownBackendError } from './errors/unknown-backend-error';

function fake(name: string): () => Promise<ComputeBackend<Float32Array>> {
  const backend = { ...createReferenceBackend('float32'), name, description: `${name}: fake` } as ComputeBackend<Float32Array>;
  return () => Promise.resolve(backend);
}
const missing = (name: string, packageName: string) => () =>
  Promise.reject(new BackendUnavailableError(name, packageName, `npm package ${packageName} is not installed`));

function isInstalled(packageName: string): boolean {
  try {
    createRequire(import.meta.url).resolve(packageName);
    return true;
  } catch {
    return false;
  }
}

describe('BackendRegistry', () => {
  it('auto walks its order, skipping unregistered, unavailable and failing backends, and says why', async () => {
    const registry = new BackendRegistry()
      .register('cpu', fake('cpu'))
      .register('wasm', fake('wasm'))
      .register('tensorflow', () => Promise.reject(new Error('libtensorflow crashed')))
      .register('tensorflow-gpu', missing('tensorflow-gpu', '@tensorflow/tfjs-node-gpu'));
    const loaded = await registry.load('auto');
    expect(loaded.backend.name).toBe('wasm');
    expect(loaded.requested).toBe('auto');
    expect(loaded.skipped).toEqual([
      { name: 'tensorflow-gpu', kind: 'unavailable', reason: 'npm package @tensorflow/tfjs-node-gpu is not installed' },
      { name: 'native', kind: 'unregistered', reason: 'not registered' },
      { name: 'tensorflow', kind: 'failed', reason: 'libtensorflow crashed' },
    ]);
    expect(loaded.summary).toBe(
      'wasm: fake (auto; skipped tensorflow-gpu: npm package @tensorflow/tfjs-node-gpu is not installed; tensorflow: libtensorflow crashed)',
    );
  });

  it('puts a later registered name where its order says', async () => {
    const registry = new BackendRegistry().register('wasm', fake('wasm')).register('native', fake('native'));
    expect(DEFAULT_AUTO_ORDER.indexOf('native')).toBeLessThan(DEFAULT_AUTO_ORDER.indexOf('wasm'));
    expect((await registry.load('auto')).backend.name).toBe('native');
    const custom = new BackendRegistry({ autoOrder: ['wasm', 'native'] }).register('wasm', fake('wasm')).register('native', fake('native'));
    expect((await custom.load('auto')).backend.name).toBe('wasm');
  });

  it('loads an explicit name or throws its error; unknown names and an empty auto are typed errors', async () => {
    const registry = new BackendRegistry()
      .register('cpu', fake('cpu'))
      .register('tensorflow', missing('tensorflow', '@tensorflow/tfjs-node'));
    expect((await registry.load('cpu')).summary).toBe('cpu: fake');
    await expect(registry.load('tensorflow')).rejects.toBeInstanceOf(BackendUnavailableError);
    await expect(registry.load('webgpu')).rejects.toThrow(new UnknownBackendError('webgpu', ['cpu', 'tensorflow']));
    const empty = new BackendRegistry({ autoOrder: ['tensorflow'] }).register('tensorflow', missing('tensorflow', '@tensorflow/tfjs-node'));
    const error = await empty.load('auto').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoBackendAvailableError);
    expect((error as NoBackendAvailableError).message).toBe(
      'no compute backend could be loaded: tensorflow (npm package @tensorflow/tfjs-node is not installed)',
    );
  });

  it('refuses a second registration of a name and the name auto', () => {
    const registry = new BackendRegistry().register('cpu', fake('cpu'));
    expect(() => registry.register('cpu', fake('cpu'))).toThrow(/already registered/);
    expect(() => registry.register('auto', fake('auto'))).toThrow(/cannot be a backend name/);
    expect(registry.names()).toEqual(['cpu']);
    expect(registry.has('cpu')).toBe(true);
  });
});

describe('registerTfjsBackends on this machine', () => {
  const registry = registerTfjsBackends(new BackendRegistry());

  it('registers the four tfjs backends', () => {
    expect(registry.names()).toEqual(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);
  });

  // The case the skipped tests below cannot see on a machine with the packages: a package
  // that is installed but whose native addon or library is missing (tfjs-node's install
  // step failed, or a GPU image without CUDA). Fake packages in a temporary node_modules.
  it.each([
    [
      'its native addon is missing',
      'The Node.js native addon module (tfjs_binding.node) can not be found at path: /x/tfjs_binding.node',
      undefined,
    ],
    ['its native library does not load', 'libtensorflow.so.2: cannot open shared object file', 'ERR_DLOPEN_FAILED'],
  ])('a package that is installed but whose addon cannot load is unavailable: %s', async (reason, message, code) => {
    const root = mkdtempSync(join(tmpdir(), 'fake-tfjs-node-'));
    try {
      const dir = join(root, 'node_modules', '@tensorflow', 'tfjs-node');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@tensorflow/tfjs-node', version: '4.22.0', main: 'index.js' }));
      writeFileSync(
        join(dir, 'index.js'),
        `throw Object.assign(new Error(${JSON.stringify(message)}), { code: ${JSON.stringify(code)} });`,
      );
      const requireHere = createRequire(join(root, 'index.js'));
      const error = await createTfjsBackend('tensorflow', requireHere).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendUnavailableError);
      expect((error as BackendUnavailableError).reason).toBe(`${reason} (${message})`);
      // auto passes over it, saying why.
      const fake = new BackendRegistry({ autoOrder: ['tensorflow', 'reference'] });
      fake.register('tensorflow', () => createTfjsBackend('tensorflow', requireHere));
      fake.register('reference', () => Promise.resolve(createReferenceBackend('float32')));
      const loaded = await fake.load('auto');
      expect(loaded.backend.name).toBe('reference');
      expect(loaded.skipped).toEqual([{ name: 'tensorflow', kind: 'unavailable', reason: `${reason} (${message})` }]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it.skipIf(isInstalled('@tensorflow/tfjs-node'))(
    'an explicit tensorflow request names the missing package and how to install it',
    async () => {
      const error = await registry.load('tensorflow').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BackendUnavailableError);
      const unavailable = error as BackendUnavailableError;
      expect(unavailable.backend).toBe('tensorflow');
      expect(unavailable.packageName).toBe('@tensorflow/tfjs-node');
      expect(unavailable.reason).toBe('npm package @tensorflow/tfjs-node is not installed');
      expect(unavailable.message).toContain('npm install @tensorflow/tfjs-node');
    },
  );

  it.skipIf(isInstalled('@tensorflow/tfjs-node') || isInstalled('@tensorflow/tfjs-node-gpu'))(
    'auto picks wasm here and reports the skipped native tfjs packages',
    async () => {
      const loaded = await registry.load('auto');
      expect(loaded.backend.name).toBe('wasm');
      expect(loaded.skipped.map((s) => [s.name, s.kind])).toEqual([
        ['tensorflow-gpu', 'unavailable'],
        ['native', 'unregistered'],
        ['tensorflow', 'unavailable'],
      ]);
      expect(loaded.summary).toMatch(
        /^wasm: tfjs-core .* \(auto; skipped tensorflow-gpu: npm package @tensorflow\/tfjs-node-gpu is not installed; tensorflow: npm package @tensorflow\/tfjs-node is not installed\)$/,
      );
    },
  );
});
