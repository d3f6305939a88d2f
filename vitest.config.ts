import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // two cores: one file per core at most
    maxWorkers: 2,
    pool: "forks",
    globalSetup: ["tests/global-setup.ts"],
  },
});
