// Builds the UI into dist/ (served by `lathe server` at /); `npm run dev` proxies the API to a
// running server (LATHE_URL, default http://127.0.0.1:8080).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// Node globals, without pulling in @types/node for one variable.
declare const process: { env: Record<string, string | undefined> };
const target = process.env.LATHE_URL ?? "http://127.0.0.1:8080";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
  },
  server: {
    proxy: {
      "/api": { target, ws: true },
      "/model": target,
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
