import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ImageCost, StoredImage } from "./api";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      importImage: vi.fn(),
      importImageBytes: vi.fn(),
      discardImage: vi.fn(async () => true),
      imageCost: vi.fn(),
      addLocalModel: vi.fn(),
      openPdf: vi.fn(),
      pdfPageCosts: vi.fn(),
      closePdf: vi.fn(async () => true),
    },
  };
});

const { api } = await import("./api");
const { Composer, describeCost, describeTotals } = await import("./composer");
const { handleDrop, clipboardFiles } = await import("./dragdrop");
const { PdfPages } = await import("./pdf-pages");

const mocked = api as unknown as {
  importImage: ReturnType<typeof vi.fn>;
  importImageBytes: ReturnType<typeof vi.fn>;
  discardImage: ReturnType<typeof vi.fn>;
  imageCost: ReturnType<typeof vi.fn>;
  addLocalModel: ReturnType<typeof vi.fn>;
  openPdf: ReturnType<typeof vi.fn>;
  pdfPageCosts: ReturnType<typeof vi.fn>;
};

function stored(name: string): StoredImage {
  return { sha256: name, file: `/store/${name}`, originalName: name, width: 1600, height: 1200 };
}

function cost(longestEdge: number | undefined): ImageCost {
  const edge = longestEdge ?? 2048;
  const cols = Math.ceil(edge / 512);
  const rows = Math.ceil((edge * 0.75) / 512);
  return {
    width: 1600, height: 1200, resizedWidth: edge, resizedHeight: edge * 0.75,
    rows, cols, frames: rows * cols + 1, tokens: (rows * cols + 1) * 64,
    tileSize: 512, defaultLongestEdge: 2048, maxLongestEdge: 2048,
    presets: { fast: 1024, standard: 2048, document: 2048 },
  };
}

beforeEach(() => {
  vi.clearAllMocks();
  mocked.importImage.mockImplementation(async (path: string) => stored(path.split("/").pop() ?? path));
  mocked.importImageBytes.mockImplementation(async (_b: Uint8Array, name: string) => stored(name));
  mocked.imageCost.mockImplementation(async (_p: string, edge?: number) => cost(edge));
});

describe("Composer", () => {
  it("imports dropped images and prices them", async () => {
    const c = new Composer();
    await c.addPaths(["/in/a.png", "/in/b.jpg"]);
    expect(mocked.importImage).toHaveBeenCalledWith("/in/a.png");
    expect(c.attachments.map((a) => a.status)).toEqual(["ready", "ready"]);
    expect(c.readyImages().map((i) => i.file)).toEqual(["/store/a.png", "/store/b.jpg"]);
    expect(mocked.imageCost).toHaveBeenCalledWith("/store/a.png", undefined);
    const t = c.totals();
    expect(t).toMatchObject({ images: 2, tiles: 24, frames: 26, tokens: 26 * 64, unknown: 0 });
    expect(describeTotals(t, null)).toBe("2 images · 24 tiles · 1,664 tokens");
  });

  it("reprices with the chosen resolution, within the model's maximum", async () => {
    const c = new Composer();
    await c.addPaths(["/in/a.png"]);
    expect(c.proc).toEqual({
      tileSize: 512, defaultLongestEdge: 2048, maxLongestEdge: 2048,
      presets: { fast: 1024, standard: 2048, document: 2048 },
    });
    await c.setPreset("fast");
    expect(c.longestEdge()).toBe(1024);
    expect(mocked.imageCost).toHaveBeenCalledWith("/store/a.png", 1024);
    expect(c.attachments[0]?.cost?.tokens).toBe(5 * 64);
    await c.setPreset("document");
    expect(c.longestEdge()).toBe(2048);
  });

  it("prices every preset for the resolution menu", async () => {
    const c = new Composer();
    await c.addPaths(["/in/a.png", "/in/b.png"]);
    await c.refreshPresetTokens();
    expect(c.presetTokens).toEqual({ fast: 2 * 5 * 64, standard: 2 * 13 * 64, document: 2 * 13 * 64 });
    c.clear();
    expect(c.presetTokens).toEqual({ fast: null, standard: null, document: null });
  });

  it("asks twice the first time when a preset is already chosen", async () => {
    const c = new Composer();
    c.preset = "fast";
    await c.addPaths(["/in/a.png"]);
    expect(mocked.imageCost.mock.calls.slice(0, 2)).toEqual([["/store/a.png", undefined], ["/store/a.png", 1024]]);
    expect(c.attachments[0]?.cost?.resizedWidth).toBe(1024);
  });

  it("turns failed imports into drop errors", async () => {
    mocked.importImage.mockRejectedValueOnce({ code: "invalid_image", message: "not a picture" });
    const c = new Composer();
    await c.addPaths(["/in/fake.png"]);
    expect(c.attachments).toEqual([]);
    expect(c.dropErrors.map((e) => e.message)).toEqual(["fake.png: not a picture"]);
  });

  it("shows no_model plainly", async () => {
    mocked.imageCost.mockRejectedValue({ code: "no_model", message: "no model is loaded" });
    const c = new Composer();
    await c.addPaths(["/in/a.png"]);
    expect(c.attachments[0]?.costError?.code).toBe("no_model");
    expect(describeTotals(c.totals(), c.attachments[0]?.costError ?? null)).toContain("load a model");
  });

  it("limits images per message", async () => {
    const c = new Composer();
    c.maxImages = 2;
    await c.addPaths(["/a.png", "/b.png", "/c.png"]);
    expect(c.attachments.length).toBe(2);
    expect(c.dropErrors[0]?.message).toContain("c.png");
  });

  it("removes, clears and restores", async () => {
    const c = new Composer();
    const changes = vi.fn();
    c.onChange(changes);
    await c.addPaths(["/a.png", "/b.png"]);
    const key = c.attachments[0]?.key ?? "";
    c.remove(key);
    expect(c.attachments.map((a) => a.name)).toEqual(["b.png"]);
    // Removed, its import's hold goes; cleared for a send, the send takes the holds over.
    expect(mocked.discardImage.mock.calls).toEqual([["/store/a.png"]]);
    const taken = c.attachments;
    c.clear();
    expect(c.attachments).toEqual([]);
    c.restore(taken);
    expect(c.attachments.map((a) => a.name)).toEqual(["b.png"]);
    expect(changes).toHaveBeenCalled();
    expect(mocked.discardImage).toHaveBeenCalledTimes(1);
  });

  it("discards an image whose thumbnail was removed while it was imported", async () => {
    let finish: (image: StoredImage) => void = () => {};
    mocked.importImage.mockImplementationOnce(() => new Promise<StoredImage>((r) => (finish = r)));
    const c = new Composer();
    const adding = c.addPaths(["/in/slow.png"]);
    const key = c.attachments[0]?.key ?? "";
    expect(c.attachments[0]?.status).toBe("importing");
    c.remove(key);
    expect(mocked.discardImage).not.toHaveBeenCalled();
    finish(stored("slow.png"));
    await adding;
    expect(c.attachments).toEqual([]);
    expect(mocked.discardImage.mock.calls).toEqual([["/store/slow.png"]]);
  });

  it("imports pasted bytes", async () => {
    const c = new Composer();
    const bytes = new Uint8Array([137, 80, 78, 71]);
    await c.addBytes(bytes, "pasted.png");
    expect(mocked.importImageBytes).toHaveBeenCalledWith(bytes, "pasted.png");
    expect(c.readyImages()[0]?.originalName).toBe("pasted.png");
  });

  it("describes one image's cost", () => {
    expect(describeCost(cost(2048))).toBe("4×3 tiles + global · 832 tokens");
    expect(describeCost({ ...cost(512), rows: 0, cols: 0, frames: 1, tokens: 64 })).toBe("1 frame · 64 tokens");
  });
});

describe("drops", () => {
  it("attaches images, adds models, and reports other files inline", async () => {
    const c = new Composer();
    const addModel = vi.fn(async (path: string) => ({ id: "l1", name: "tiny", path }));
    await handleDrop(["/in/a.png", "/in/notes.txt", "/models/tiny.gguf"], { composer: c, pdfs: new PdfPages(c), addModel });
    expect(c.attachments.map((a) => a.name)).toEqual(["a.png"]);
    expect(addModel).toHaveBeenCalledWith("/models/tiny.gguf");
    expect(c.dropErrors.length).toBe(1);
    expect(c.dropErrors[0]?.message).toContain("notes.txt");
  });

  it("reports a folder that is not a model", async () => {
    const c = new Composer();
    const addModel = vi.fn(async () => {
      throw { code: "invalid_model", message: "no config.json or .gguf in it" };
    });
    await handleDrop(["/home/me/Photos"], { composer: c, pdfs: new PdfPages(c), addModel });
    expect(c.dropErrors[0]?.message).toBe("Photos: no config.json or .gguf in it");
  });

  it("opens a dropped PDF as a page strip at the document preset", async () => {
    mocked.openPdf.mockResolvedValue({ id: "d1", name: "report.pdf", pages: [{ number: 1, widthPt: 612, heightPt: 792 }] });
    mocked.pdfPageCosts.mockResolvedValue({ longestEdge: 2048, pages: [cost(2048)], budgetTokens: 4096 });
    const c = new Composer();
    const pdfs = new PdfPages(c);
    await handleDrop(["/in/report.pdf"], { composer: c, pdfs, addModel: vi.fn() });
    expect(mocked.openPdf).toHaveBeenCalledWith("/in/report.pdf");
    expect(pdfs.pending.map((p) => [p.name, p.status, p.selected])).toEqual([["report.pdf", "choosing", [1]]]);
    expect(c.preset).toBe("document");
    expect(c.dropErrors).toEqual([]);
  });

  it("finds images and PDFs in a paste", () => {
    const png = new File([new Uint8Array([1, 2])], "image.png", { type: "image/png" });
    const pdf = new File([new Uint8Array([37, 80])], "scan.pdf", { type: "application/pdf" });
    const data = {
      items: [
        { kind: "string", type: "text/plain", getAsFile: () => null },
        { kind: "file", type: "image/png", getAsFile: () => png },
        { kind: "file", type: "application/pdf", getAsFile: () => pdf },
        { kind: "file", type: "application/zip", getAsFile: () => pdf },
      ],
      files: [],
    } as unknown as DataTransfer;
    expect(clipboardFiles(data)).toEqual([png, pdf]);
    expect(clipboardFiles(null)).toEqual([]);
  });
});
