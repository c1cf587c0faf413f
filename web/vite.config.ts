import { defineConfig } from "vite";
import preact from "@preact/preset-vite";

// Everything is bundled: no request leaves the origin (no CDN fonts or scripts), and the built
// index.html loads one module script from 'self' (the CSP allows no inline script).
export default defineConfig({
  plugins: [preact()],
  build: {
    outDir: "dist",
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
  },
});
