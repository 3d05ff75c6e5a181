import { describe, expect, it } from "vitest";
import type { DownloadEvent } from "./api";
import { applyDownloadEvent, isActive, type DownloadState } from "./downloads";

const run = (events: DownloadEvent[]): DownloadState | undefined =>
  events.reduce<DownloadState | undefined>((d, e) => applyDownloadEvent(d, e), undefined);

describe("download reducer", () => {
  it("follows started, progress, file-done, done", () => {
    let d = run([{ type: "started", files: 2, totalBytes: 1000 }]);
    expect(d?.phase).toBe("downloading");
    expect(isActive(d)).toBe(true);
    d = applyDownloadEvent(d, { type: "progress", file: "model.safetensors", fileBytes: 300, fileTotal: 800, bytes: 300, totalBytes: 1000, bytesPerS: 100, etaS: 7 });
    expect(d).toMatchObject({ bytes: 300, fileBytes: 300, file: "model.safetensors", etaS: 7, bytesPerS: 100 });
    d = applyDownloadEvent(d, { type: "file-done", file: "model.safetensors" });
    expect(d.filesDone).toBe(1);
    d = applyDownloadEvent(d, { type: "done", path: "/models/x" });
    expect(d).toMatchObject({ phase: "done", path: "/models/x", bytes: 1000 });
    expect(isActive(d)).toBe(false);
  });

  it("is idempotent for repeated progress", () => {
    const p: DownloadEvent = { type: "progress", file: "a", fileBytes: 5, fileTotal: 10, bytes: 5, totalBytes: 10, bytesPerS: 1, etaS: null };
    expect(run([p, p])).toEqual(run([p]));
  });

  it("keeps the bytes when cancelled and records errors", () => {
    const d = run([
      { type: "started", files: 1, totalBytes: 10 },
      { type: "progress", file: "a", fileBytes: 4, fileTotal: 10, bytes: 4, totalBytes: 10, bytesPerS: 2, etaS: 3 },
      { type: "cancelled" },
    ]);
    expect(d).toMatchObject({ phase: "cancelled", bytes: 4, bytesPerS: 0, etaS: null });
    const e = applyDownloadEvent(d, { type: "error", code: "network", message: "reset" });
    expect(e.error).toEqual({ code: "network", message: "reset" });
  });
});
