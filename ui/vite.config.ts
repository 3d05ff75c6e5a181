import { defineConfig } from "vite";

// Tauri loads http://localhost:5173 in development (tauri.conf.json `devUrl`) and ui/dist in
// release builds (`frontendDist`).
export default defineConfig({
  clearScreen: false,
  server: { port: 5173, strictPort: true },
  build: { outDir: "dist", target: "es2022", emptyOutDir: true },
});
