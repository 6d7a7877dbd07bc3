import { defineConfig } from 'vite';

// `npm run dev` proxies the API and the WebSocket to the local stack (nginx on :8080).
const stack = process.env.WHISTLE_BASE_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
  server: {
    proxy: {
      '/api': stack,
      '/ws': { target: stack.replace(/^http/, 'ws'), ws: true },
    },
  },
});
