// Module boundaries (Nx tags): apps -> libs only, apps never import each other,
// lstm-core depends on nothing of ours, lstm-native only on lstm-core, the compute/data libs
// never touch Redis or S3, and only libs/runner (and the apps) touch BullMQ and ioredis.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const serviceClients = ['bullmq', 'ioredis', '@aws-sdk/*'];

const depConstraints = [
  { sourceTag: 'scope:core', onlyDependOnLibsWithTags: [], bannedExternalImports: serviceClients },
  // The oneDNN addon's backend: lstm-core's interface and registry, nothing else of ours.
  { sourceTag: 'scope:native', onlyDependOnLibsWithTags: ['scope:core'], bannedExternalImports: serviceClients },
  {
    sourceTag: 'scope:backends',
    onlyDependOnLibsWithTags: ['scope:core', 'scope:native', 'scope:protocol'],
    bannedExternalImports: serviceClients,
  },
  { sourceTag: 'scope:storage', onlyDependOnLibsWithTags: [] },
  {
    sourceTag: 'scope:data',
    onlyDependOnLibsWithTags: ['scope:core', 'scope:storage'],
    bannedExternalImports: serviceClients,
  },
  {
    sourceTag: 'scope:protocol',
    onlyDependOnLibsWithTags: ['scope:core', 'scope:data', 'scope:storage'],
    bannedExternalImports: ['bullmq', 'ioredis'],
  },
  {
    sourceTag: 'scope:job-store',
    onlyDependOnLibsWithTags: ['scope:core', 'scope:data', 'scope:storage', 'scope:protocol'],
    bannedExternalImports: ['bullmq', 'ioredis'],
  },
  {
    // Using a trained model needs no queue: the CLI and the dashboard read models without BullMQ.
    sourceTag: 'scope:models',
    onlyDependOnLibsWithTags: ['scope:core', 'scope:data', 'scope:storage', 'scope:protocol', 'scope:job-store', 'scope:backends'],
    bannedExternalImports: ['bullmq', 'ioredis'],
  },
  {
    sourceTag: 'scope:runner',
    // Every lib above it (DEVELOPERS.md); models: the coordinator evaluates a completed run for its promotion gate.
    onlyDependOnLibsWithTags: [
      'scope:core',
      'scope:data',
      'scope:storage',
      'scope:protocol',
      'scope:job-store',
      'scope:backends',
      'scope:models',
    ],
  },
  {
    // The dashboard reads the store and acts through libs/runner; Redis stays behind runner's functions.
    sourceTag: 'scope:dashboard',
    onlyDependOnLibsWithTags: ['scope:core', 'scope:storage', 'scope:protocol', 'scope:job-store', 'scope:runner'],
    bannedExternalImports: ['bullmq', 'ioredis'],
  },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
];

const boundaries = (allow) => ['error', { enforceBuildableLibDependency: false, allow, depConstraints }];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '.nx/**', '.scratch/**', 'bench/results/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@nx/enforce-module-boundaries': boundaries([]),
    },
  },
  {
    // Type-aware rules: a promise that is dropped, handed where a callback's result is
    // ignored, or awaited when it is not one, is a bug the compiler does not report.
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  {
    // Files and functions small enough to read whole.
    files: ['apps/*/src/**/*.ts', 'libs/*/src/**/*.ts'],
    ignores: ['**/*.test.ts'],
    rules: {
      'max-lines': ['error', { max: 400 }],
      'max-lines-per-function': ['error', { max: 80 }],
    },
  },
  {
    // Tests (and only tests) use the shared servers and process harness in test-support/.
    files: ['**/test/**/*.ts', '**/*.test.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(['^(\\.\\./)+test-support/[a-z-]+$']) },
  },
];
