import { defineConfig } from 'vitest/config';

// Two projects: `unit` runs anywhere without privileges; `kernel` loads real programs and needs root.
// Kernel test files run one at a time: they share the machine's cgroup and bpffs trees.
export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          // Projects run one after the other: kernel tests then have the machine to themselves
          // (no unit test's CPU load or network traffic under their measurements).
          sequence: { groupOrder: 0 },
          include: ['test/**/*.test.ts'],
          exclude: ['test/kernel/**', 'test/conformance/**', '**/node_modules/**'],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'kernel',
          sequence: { groupOrder: 1 },
          include: ['test/kernel/**/*.test.ts', 'test/conformance/**/*.test.ts'],
          globalSetup: ['test/kernel/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
