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
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 400,
  },
});
