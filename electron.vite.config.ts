// electron-vite build → out/main (ESM), out/preload/index.cjs (CommonJS: a sandboxed preload cannot be an
// ES module), out/renderer (Svelte 5; base './' so it loads from file:// and from the browser-mode server).
import { defineConfig } from 'electron-vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { resolve } from 'node:path';

export default defineConfig({
  main: {
    build: {
      outDir: 'out/main',
      externalizeDeps: true,
      // engine-worker.js: the engine workers' entry (utility processes in the app, threads elsewhere), beside index.js
      rollupOptions: {
        input: { index: resolve('src/main/index.ts'), 'engine-worker': resolve('src/host/engine-worker/entry.ts') },
        // no merging of chunks: the engine and codecs (onnxruntime, sharp) must stay out of what index.js loads
        experimental: { chunkOptimization: false },
      },
    },
  },
  preload: {
    build: {
      outDir: 'out/preload',
      externalizeDeps: true,
      rollupOptions: {
        input: { index: resolve('src/preload/index.ts') },
        output: { format: 'cjs', entryFileNames: '[name].cjs' },
      },
    },
  },
  renderer: {
    root: resolve('src/renderer'),
    base: './',
    plugins: [svelte()],
    build: {
      outDir: resolve('out/renderer'),
      emptyOutDir: true,
      // Keep everything in files: the CSP allows no inline script or style.
      assetsInlineLimit: 0,
      rollupOptions: { input: resolve('src/renderer/index.html') },
    },
  },
});
