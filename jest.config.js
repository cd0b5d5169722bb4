/**
 * Jest runs in native ESM mode (`node --experimental-vm-modules`, see package.json "test")
 * because the NestJS 12 packages are ESM-only. @swc/jest transpiles TypeScript with
 * decorator metadata (`.swcrc`); type-checking is `npm run typecheck`.
 */
// No options: @swc/jest then reads `.swcrc`, the settings every swc build of Siteline shares.
const swc = ['@swc/jest', {}];

/**
 * A few ESM-only packages are `require`d by CommonJS dependencies (@fastify/static needs
 * content-disposition; light-my-request needs cookie). Node ≥ 20.19 can require ESM; Jest's
 * loader cannot, so Jest transpiles just these to CommonJS.
 */
const ESM_ONLY_REQUIRED = ['content-disposition', 'cookie'];
const swcToCommonJs = ['@swc/jest', { module: { type: 'commonjs' } }];

const common = {
  transform: {
    '^.+\\.ts$': swc,
    [`/node_modules/(${ESM_ONLY_REQUIRED.join('|')})/.+\\.js$`]: swcToCommonJs,
  },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY_REQUIRED.join('|')})/)`],
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  setupFiles: ['reflect-metadata'],
};

export default {
  testTimeout: 30000,
  /**
   * Suites run in a worker process that Jest replaces once it holds more than this after a suite.
   * Run in band (Jest's choice with one worker), the whole suite shared one process that grew to
   * ~8 GB: its garbage collections paused the embedded store's listener for seconds, so
   * time-bounded checks (a readiness ping, a request deadline) failed at random.
   */
  workerIdleMemoryLimit: '1536MB',
  projects: [
    {
      ...common,
      displayName: 'unit',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/deploy/**/*.spec.ts', '<rootDir>/bench/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'embedded-mongo',
      rootDir: '.',
      testMatch: ['<rootDir>/libs/embedded-mongo/test/**/*.spec.ts'],
    },
    {
      // One module with its real dependencies against a fresh database, without HTTP (test/support/medium.ts).
      ...common,
      displayName: 'medium',
      rootDir: '.',
      testMatch: ['<rootDir>/test/medium/**/*.spec.ts'],
    },
    { ...common, displayName: 'e2e', rootDir: '.', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
};
