import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/** The feature modules under src/: each owns its collections and the repositories over them. */
const FEATURE_MODULES = [
  'auth',
  'cli',
  'compat',
  'dashboard',
  'funnels',
  'geo',
  'goals',
  'health',
  'hits',
  'ingestion',
  'metrics',
  'retention',
  'segments',
  'sessions',
  'sites',
  'stats',
];
/** Repositories a module exports on purpose, each from a store module of its own (see HitsModule). */
const EXPORTED_REPOSITORIES = ['hits', 'engagements'];

/**
 * A module reaches another module's data only through what that module exports (its services,
 * or a store module's repository), never by importing one of its other repositories.
 */
function moduleBoundaries() {
  return FEATURE_MODULES.map((module) => {
    const others = FEATURE_MODULES.filter((other) => other !== module).join('|');
    const exported = EXPORTED_REPOSITORIES.join('|');
    return {
      files: [`src/${module}/**/*.ts`],
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: [
              {
                regex: `^(\\.\\./)+(${others})/(.+/)?(?!(${exported})\\.repository\\.js$)[^/]+\\.repository\\.js$`,
                message: `${module} may not import another module's repository: use a service that module exports.`,
              },
            ],
          },
        ],
      },
    };
  });
}

export default tseslint.config(
  // test/openapi-client/client.ts is compiled against types generated during its own test (see
  // openapi-client.e2e-spec.ts), so it is outside the TypeScript project the typed rules need.
  {
    ignores: [
      'test/openapi-client/client.ts',
      'test/openapi-client/generated/**',
      'dist/**',
      'node_modules/**',
      'coverage/**',
      'data/**',
      'test-output/**',
      'src/dashboard/public/vendor/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A forgotten await on a write would acknowledge a hit that was never stored.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  ...moduleBoundaries(),
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  prettier,
);
