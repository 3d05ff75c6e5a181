import { describe, expect, it } from "vitest";
import { classifyPath, pastedName, planDrop } from "./files";
import { longestEdgeFor, presetLabel } from "./resolution";

describe("dropped paths", () => {
  it("classifies by name", () => {
    expect(classifyPath("/x/photo.JPG")).toBe("image");
    expect(classifyPath("/x/scan.tiff")).toBe("image");
    expect(classifyPath("/x/model-Q8_0.gguf")).toBe("model");
    expect(classifyPath("/models/SmolVLM-256M-Instruct")).toBe("model");
    expect(classifyPath("/x/report.pdf")).toBe("pdf");
    expect(classifyPath("/x/Scan.PDF")).toBe("pdf");
    expect(classifyPath("C:\\Users\\me\\notes.txt")).toBe("other");
    expect(classifyPath("/models/SmolVLM2-2.2B-Instruct")).toBe("model");
    expect(classifyPath("/models/tiny-v0.1")).toBe("model");
  });

  it("plans a mixed drop", () => {
    expect(planDrop(["/a.png", "/b.txt", "/m.gguf", "/c.webp", "/d.pdf"])).toEqual({
      images: ["/a.png", "/c.webp"],
      pdfs: ["/d.pdf"],
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
  const proc = {
    tileSize: 512, defaultLongestEdge: 2048, maxLongestEdge: 4096,
    presets: { fast: 1024, standard: 2048, document: 2560 },
  };
  it("takes each preset's edge from the backend", () => {
    expect(longestEdgeFor("fast", proc)).toBe(1024);
    expect(longestEdgeFor("standard", proc)).toBe(2048);
    expect(longestEdgeFor("document", proc)).toBe(2560);
    expect(longestEdgeFor("fast", null)).toBeUndefined();
  });
  it("labels presets with their cost when known", () => {
    expect(presetLabel("document", 1234)).toBe("Document · 1,234 tokens");
    expect(presetLabel("fast", null)).toBe("Fast");
  });
});
