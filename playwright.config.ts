// End-to-end tests. "browser": Debian's Chromium (/usr/bin/chromium, never `playwright install`) against
// `npm run serve` with the real engine. "electron": the desktop app through _electron.launch, which skips
// (and says so) where no Electron binary is installed.
import { defineConfig } from '@playwright/test';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
];

export default defineConfig({
  timeout: 180_000,
  expect: { timeout: 60_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  projects: [
    {
      name: 'browser',
      testDir: 'tests/e2e',
      testMatch: '**/*.e2e.ts',
      use: {
        browserName: 'chromium',
        headless: true,
        viewport: { width: 1280, height: 720 },
        acceptDownloads: true,
        launchOptions: { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS },
        trace: 'retain-on-failure',
      },
    },
    { name: 'electron', testDir: 'tests/electron', testMatch: '**/*.e2e.ts' },
  ],
});
