/**
 * Jest runs in native ESM mode (`node --experimental-vm-modules`, see package.json "test")
 * because the NestJS 12 packages are ESM-only. @swc/jest transpiles TypeScript with
 * decorator metadata; type-checking is `npm run typecheck`.
 */
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const common = {
  transform: { '^.+\\.ts$': swc },
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
  setupFiles: ['reflect-metadata'],
};

export default {
  testTimeout: 30000,
  projects: [
    { ...common, displayName: 'unit', rootDir: '.', testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/deploy/**/*.spec.ts'] },
    {
      ...common,
      displayName: 'embedded-mongo',
      rootDir: '.',
      testMatch: ['<rootDir>/libs/embedded-mongo/test/**/*.spec.ts'],
    },
    { ...common, displayName: 'e2e', rootDir: '.', testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'] },
  ],
};
