import { describe, expect, it } from "vitest";
import { classifyPath, pastedName, planDrop } from "./files";
import { longestEdgeFor, presetFromTiles, tilesForPreset } from "./resolution";

describe("dropped paths", () => {
  it("classifies by name", () => {
    expect(classifyPath("/x/photo.JPG")).toBe("image");
    expect(classifyPath("/x/scan.tiff")).toBe("image");
    expect(classifyPath("/x/model-Q8_0.gguf")).toBe("model");
    expect(classifyPath("/models/SmolVLM-256M-Instruct")).toBe("model");
    expect(classifyPath("/x/report.pdf")).toBe("other");
    expect(classifyPath("C:\\Users\\me\\notes.txt")).toBe("other");
    expect(classifyPath("/models/SmolVLM2-2.2B-Instruct")).toBe("model");
    expect(classifyPath("/models/tiny-v0.1")).toBe("model");
  });

  it("plans a mixed drop", () => {
    expect(planDrop(["/a.png", "/b.txt", "/m.gguf", "/c.webp"])).toEqual({
      images: ["/a.png", "/c.webp"],
      models: ["/m.gguf"],
      rejected: ["/b.txt"],
    });
  });

  it("names pasted images", () => {
    const n = pastedName("image/jpeg", Date.UTC(2025, 0, 2, 3, 4, 5));
    expect(n).toBe("pasted-2025-01-02T03-04-05.jpg");
    expect(pastedName("image/x-weird", 0)).toMatch(/\.png$/);
  });
});

describe("resolution presets", () => {
  const proc = { tileSize: 512, defaultLongestEdge: 2048, maxLongestEdge: 2048 };
  it("maps presets to a longest edge within the model's limit", () => {
    expect(longestEdgeFor("low", proc)).toBe(512);
    expect(longestEdgeFor("standard", proc)).toBeUndefined();
    expect(longestEdgeFor("document", proc)).toBe(2048);
    expect(longestEdgeFor("document", { ...proc, maxLongestEdge: 4096 })).toBe(2560);
    expect(longestEdgeFor("low", null)).toBeUndefined();
  });
  it("round-trips the saved setting", () => {
    expect(presetFromTiles(null)).toBe("standard");
    expect(presetFromTiles(tilesForPreset("low"))).toBe("low");
    expect(presetFromTiles(tilesForPreset("document"))).toBe("document");
  });
});
