import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  // Compiles the renderer's .svelte.ts state modules (runes) so their sessions can be unit-tested in Node.
  plugins: [svelte()],
  // The main-process test runs the built main under a stand-in for Electron (its binary is not installed here).
  resolve: { alias: { electron: fileURLToPath(new URL('./tests/electron-standin/electron.ts', import.meta.url)) } },
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/security/**/*.test.ts', 'tests/main/**/*.test.ts', 'tests/packaging/**/*.test.ts'],
    environment: 'node',
    // Two shared cores: keep the worker count small so ONNX sessions do not fight each other.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
