import { defineConfig } from 'vitest/config'

// End-to-end tests spawn real services; give them room, and run files side by side
// (each file has its own ports and Redis key prefix).
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    globalSetup: ['./global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    maxWorkers: 2,
  },
})
