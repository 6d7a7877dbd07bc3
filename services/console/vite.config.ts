import { defineConfig } from 'vite';

// `npm run dev` proxies the API and the WebSocket to the local stack (nginx on :8080).
const stack = process.env.WHISTLE_BASE_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  // The charts page loads Apache ECharts (tree-shaken, ~680 kB, ~240 kB gzipped) as a chunk of its
  // own, on demand; the other pages never fetch it.
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 800 },
  server: {
    proxy: {
      '/api': stack,
      '/ws': { target: stack.replace(/^http/, 'ws'), ws: true },
    },
  },
});
