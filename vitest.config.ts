import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      // real HTTP to the emulator, up to a thousand members a test: 5 s is too short on a loaded 2-core machine
      { test: { name: 'emulator', include: ['test/emulator/**/*.test.ts'], testTimeout: 30_000 } },
      // needs promtool (Debian package prometheus, installed by .ci/run)
      { test: { name: 'monitoring', include: ['test/monitoring/**/*.test.ts'], testTimeout: 60_000 } },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/integration/setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
