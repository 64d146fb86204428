// ESLint flat config. Kept small on purpose: correctness rules from the
// recommended sets, import cycles, and the layer boundaries of the source tree:
//
//   src/shared   runs on either thread; imports nothing else of the package
//   src/api      public types and config; imports only src/shared
//   src/main     main thread only; never imports workers/, except the two
//                files that start hosts inline or reference the worker entry
//   workers      the actor host; never imports src/main
//   src/plugins  bundled plugins; import only src/api and src/shared
//   bench, test  may import anything (nothing published imports them)
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('.', import.meta.url));

/** The files allowed to import workers/ from src/main. */
const hostStarters = ['src/main/hosts/inline-hosts.ts', 'src/main/hosts/worker-hosts.ts'];

const mainImportsWorkers = {
  target: 'src/main',
  from: 'workers',
  message: 'src/main never imports workers/ (only src/main/hosts/inline-hosts.ts and worker-hosts.ts may).',
};

/** Zones for import-x/no-restricted-paths: files under `target` may not import from `from`. */
const zones = [
  {
    target: 'src/shared',
    from: ['src/api', 'src/main', 'src/plugins', 'src/index.ts', 'workers', 'bench', 'test'],
    message: 'src/shared runs on either thread and imports nothing outside src/shared.',
  },
  {
    target: 'src/api',
    from: ['src/main', 'src/plugins', 'src/index.ts', 'workers', 'bench', 'test'],
    message: 'src/api imports only src/shared.',
  },
  mainImportsWorkers,
  {
    target: 'src/main',
    from: ['bench', 'test'],
    message: 'Published code never imports bench/ or test/ (they are not in the package).',
  },
  {
    target: 'workers',
    from: 'src/main',
    message: 'workers/ never imports src/main (main thread only).',
  },
  {
    target: 'workers',
    from: ['bench', 'test'],
    message: 'Published code never imports bench/ or test/ (they are not in the package).',
  },
  {
    target: 'src/plugins',
    from: ['src/main', 'src/index.ts', 'workers', 'bench', 'test'],
    message: 'Bundled plugins import only src/api and src/shared.',
  },
];

export default defineConfig([
  globalIgnores(['dist/', 'node_modules/', '.bench-out/']),

  {
    files: ['**/*.{ts,js}'],
    extends: [js.configs.recommended, tseslint.configs.recommended],
    languageOptions: {
      ecmaVersion: 2023,
      sourceType: 'module',
      globals: { ...globals.node },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    plugins: { 'import-x': importX },
    settings: {
      // Resolves the `.js` specifiers of relative imports to their `.ts` sources.
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: `${root}tsconfig.json` })],
      'import-x/extensions': ['.ts', '.js'],
    },
    rules: {
      'import-x/no-cycle': 'error',
      'import-x/no-restricted-paths': ['error', { basePath: root, zones }],

      // typescript-eslint: the recommended set, with these adjustments.
      // `x!` is deliberate under noUncheckedIndexedAccess (not in the recommended set; stated here).
      '@typescript-eslint/no-non-null-assertion': 'off',
      // tsc enforces this already (noUnusedLocals, noUnusedParameters); bench sinks are written, never read, on purpose.
      '@typescript-eslint/no-unused-vars': 'off',
    },
  },

  {
    // The entry points that start hosts inline or name the worker entry may reach workers/.
    files: hostStarters,
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: root, zones: zones.filter((zone) => zone !== mainImportsWorkers) }],
    },
  },

  {
    // Test doubles and bench drivers type foreign emitters and hook answers loosely.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },

  {
    // Published code logs through src/shared/log.ts; only the command line writes to the console.
    files: ['src/**/*.ts', 'workers/**/*.ts'],
    ignores: ['src/main/cli/**'],
    rules: { 'no-console': 'error' },
  },
]);
