import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    alias: {
      'rhea-rx/operators': here('./operators/index.ts'),
      'rhea-rx/testing': here('./src/testing/index.ts'),
      'rhea-rx/opentelemetry': here('./src/opentelemetry/index.ts'),
      'rhea-rx': here('./src/index.ts'),
    },
  },
  test: {
    include: ['test/**/*.spec.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: ['test/support/globalSetup.ts'],
    reporters: ['default', './test/support/countReporter.ts'],
  },
});
