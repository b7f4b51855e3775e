// Module boundaries (Nx tags): apps -> libs only, apps never import each other,
// lstm-core depends on nothing of ours, lstm-native only on lstm-core, and the compute/data
// libs never touch Redis or S3.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const serviceClients = ['bullmq', 'ioredis', '@aws-sdk/*'];

const depConstraints = [
  { sourceTag: 'scope:core', onlyDependOnLibsWithTags: [], bannedExternalImports: serviceClients },
  { sourceTag: 'scope:storage', onlyDependOnLibsWithTags: [] },
  // The oneDNN addon's backend: lstm-core's interface and registry, nothing else of ours.
  { sourceTag: 'scope:native', onlyDependOnLibsWithTags: ['scope:core'], bannedExternalImports: serviceClients },
  {
    sourceTag: 'scope:data',
    onlyDependOnLibsWithTags: ['scope:core', 'scope:storage'],
    bannedExternalImports: serviceClients,
  },
  { sourceTag: 'scope:protocol', onlyDependOnLibsWithTags: ['scope:core', 'scope:data', 'scope:storage'] },
  {
    sourceTag: 'scope:runner',
    onlyDependOnLibsWithTags: ['scope:core', 'scope:data', 'scope:storage', 'scope:protocol'],
  },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
  { sourceTag: 'type:lib', onlyDependOnLibsWithTags: ['type:lib'] },
];

const boundaries = (allow) => ['error', { enforceBuildableLibDependency: false, allow, depConstraints }];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', '.nx/**', 'bench/results/**'] },
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
    // Tests (and only tests) use the shared servers and process harness in test-support/.
    files: ['**/test/**/*.ts', '**/*.test.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(['^(\\.\\./)+test-support/[a-z-]+$']) },
  },
];
