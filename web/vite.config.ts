import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The console is built into web/dist, which the server serves at `/` (src/http/routes/console-route.ts).
// `npm run dev:web` proxies the API to a moongate on :8700 (`npm start`).
export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1200 },
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:8700',
      '/kimi': 'http://127.0.0.1:8700',
    },
  },
});
