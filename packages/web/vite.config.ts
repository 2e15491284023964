import { defineConfig } from 'vite';

// The controller serves dist/ itself, so assets stay relative to wherever the console is mounted.
export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
});
