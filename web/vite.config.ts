/**
 * Builds the dashboard front end into web/dist. Preact's JSX goes through esbuild's automatic
 * runtime, so no framework plugin is needed; everything is bundled, nothing loads from the web.
 */
import { fileURLToPath } from 'node:url';

import { defineConfig } from 'vite';

const webRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: webRoot,
  base: '/',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  // `npx vite --config web/vite.config.ts` for hot reload, against a running `rlaif ui`.
  server: { host: '127.0.0.1', proxy: { '/api': process.env.RLAIF_UI_URL ?? 'http://127.0.0.1:4780' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 400,
  },
});
