import { defineConfig } from 'vite';

// The controller serves dist/ at `/` and answers unknown non-API paths with index.html, so deep links such as
// /shell/<cluster> load their assets from absolute /assets/… paths.
// `npm run dev` proxies the API and the shell socket to a controller (ZTKA_CONTROLLER, default
// https://localhost:8443); the controller's CSP does not apply to the dev server.
const controller = process.env['ZTKA_CONTROLLER'] ?? 'https://localhost:8443';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 800,
    rolldownOptions: {
      // Mantine marks its modules "use client" for React Server Components; meaningless in this bundle.
      onwarn(warning, warn) {
        if (warning.code === 'MODULE_LEVEL_DIRECTIVE') return;
        warn(warning);
      },
    },
  },
  server: {
    proxy: { '/v1': { target: controller, changeOrigin: true, secure: false, ws: true } },
  },
});
