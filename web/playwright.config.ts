import { defineConfig } from '@playwright/test';

// Browser end-to-end tests against a running `penny` (started by scripts/e2e.sh, which sets
// BASE_URL and the admin's credentials). Debian's Chromium is used; no browser is downloaded.
export default defineConfig({
  testDir: './e2e',
  testMatch: /.*\.e2e\.ts$/, // not *.spec.ts / *.test.ts, which Vitest would pick up
  outputDir: './e2e/output/test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    baseURL: process.env.BASE_URL ?? 'http://127.0.0.1:3001',
    viewport: { width: 1280, height: 800 },
    colorScheme: 'light',
    acceptDownloads: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    },
  },
});
