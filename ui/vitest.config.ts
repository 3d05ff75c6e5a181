import { defineConfig } from "vitest/config";

// Unit tests run in jsdom: no Tauri, the backend is mocked per test (vi.mock("./api")).
export default defineConfig({
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    restoreMocks: true,
  },
});
