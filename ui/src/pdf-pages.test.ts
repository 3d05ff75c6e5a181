import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ImageCost, PdfCosts, PdfInfo, StoredImage } from "./api";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      imageCost: vi.fn(),
      openPdf: vi.fn(),
      openPdfBytes: vi.fn(),
      pdfPageCosts: vi.fn(),
      pdfThumbnail: vi.fn(),
      importPdfPage: vi.fn(),
      cancelPdfRender: vi.fn(async () => null),
      closePdf: vi.fn(async () => true),
    },
  };
});

const { api } = await import("./api");
const { Composer } = await import("./composer");
const { PdfPages, chosenTokens, defaultPages } = await import("./pdf-pages");

type Fn = ReturnType<typeof vi.fn>;
const mocked = api as unknown as Record<string, Fn>;
const m = (name: string): Fn => mocked[name] as Fn;

function pageCost(tokens: number): ImageCost {
  return {
    width: 1448, height: 2048, resizedWidth: 1448, resizedHeight: 2048, rows: 4, cols: 3,
    frames: 13, tokens, tileSize: 512, defaultLongestEdge: 2048, maxLongestEdge: 4096,
    presets: { fast: 1024, standard: 2048, document: 2560 },
  };
}

function info(pages: number): PdfInfo {
  return {
    id: "d1", name: "report.pdf",
    pages: Array.from({ length: pages }, (_, i) => ({ number: i + 1, widthPt: 612, heightPt: 792 })),
  };
}

function costs(pages: number, each: number, budget: number): PdfCosts {
  return { longestEdge: 2560, pages: Array.from({ length: pages }, () => pageCost(each)), budgetTokens: budget };
}

function page(n: number): StoredImage {
  return {
    sha256: `s${n}`, file: `/store/s${n}.png`, originalName: `report.pdf — page ${n}`,
    width: 1980, height: 2560, page: { document: "report.pdf", page: n, pages: 4 },
  };
}

beforeEach(() => {
  vi.clearAllMocks();
  m("imageCost").mockResolvedValue(pageCost(845));
  m("importPdfPage").mockImplementation(async (_id: string, n: number) => page(n));
});

describe("the default page choice", () => {
  it("takes every page that fits, else the first", () => {
    expect(defaultPages(1, null, 8)).toEqual([1]);
    expect(defaultPages(3, costs(3, 100, 1000), 8)).toEqual([1, 2, 3]);
    expect(defaultPages(3, costs(3, 400, 1000), 8)).toEqual([1]);
    expect(defaultPages(3, costs(3, 100, 1000), 2)).toEqual([1]);
    expect(defaultPages(3, null, 8)).toEqual([1]);
  });
});

describe("PdfPages", () => {
  it("opens a PDF at the document preset and chooses pages by their cost", async () => {
    m("openPdf").mockResolvedValue(info(4));
    m("pdfPageCosts").mockResolvedValue(costs(4, 300, 2048));
    const c = new Composer();
    const pdfs = new PdfPages(c);
    await pdfs.addPaths(["/docs/report.pdf"]);
    const p = pdfs.pending[0];
    expect(p?.status).toBe("choosing");
    expect(p?.selected).toEqual([1, 2, 3, 4]);
    expect(c.preset).toBe("document");
    if (!p) throw new Error("no strip");
    expect(chosenTokens(p)).toBe(1200);
    pdfs.toggle(p.key, 1);
    pdfs.toggle(p.key, 4);
    expect(pdfs.pending[0]?.selected).toEqual([2, 3]);
    pdfs.toggle(p.key, 1);
    expect(pdfs.pending[0]?.selected).toEqual([1, 2, 3]);
    pdfs.selectAll(p.key, false);
    expect(pdfs.pending[0]?.selected).toEqual([]);
  });

  it("renders the chosen pages in order into the message, then closes the PDF", async () => {
    m("openPdf").mockResolvedValue(info(4));
    m("pdfPageCosts").mockResolvedValue(costs(4, 300, 100));
    const c = new Composer();
    const pdfs = new PdfPages(c);
    await pdfs.addPaths(["/docs/report.pdf"]);
    const key = pdfs.pending[0]?.key ?? "";
    expect(pdfs.pending[0]?.selected).toEqual([1]); // over the budget: the first page only
    pdfs.toggle(key, 3);
    pdfs.toggle(key, 1);
    pdfs.toggle(key, 2);
    await pdfs.attach(key);
    expect(m("importPdfPage").mock.calls).toEqual([["d1", 2, 2560], ["d1", 3, 2560]]);
    expect(c.readyImages().map((i) => i.page?.page)).toEqual([2, 3]);
    expect(c.attachments.map((a) => a.name)).toEqual(["report.pdf — page 2", "report.pdf — page 3"]);
    expect(pdfs.pending).toEqual([]);
    expect(m("closePdf")).toHaveBeenCalledWith("d1");
  });

  it("stops rendering when cancelled, keeping the pages already added", async () => {
    m("openPdf").mockResolvedValue(info(4));
    m("pdfPageCosts").mockResolvedValue(costs(4, 10, 1000));
    const c = new Composer();
    const pdfs = new PdfPages(c);
    await pdfs.addPaths(["/docs/report.pdf"]);
    const key = pdfs.pending[0]?.key ?? "";
    let release: () => void = () => undefined;
    m("importPdfPage").mockImplementationOnce(async (_id: string, n: number) => page(n));
    m("importPdfPage").mockImplementationOnce(
      (_id: string, _n: number) =>
        new Promise((_, reject) => (release = () => reject({ code: "cancelled", message: "cancelled" }))),
    );
    const done = pdfs.attach(key);
    await vi.waitFor(() => expect(m("importPdfPage")).toHaveBeenCalledTimes(2));
    expect(pdfs.pending[0]?.status).toBe("rendering");
    expect(pdfs.busy()).toBe(true);
    pdfs.cancel(key);
    expect(m("cancelPdfRender")).toHaveBeenCalledWith("d1");
    release();
    await done;
    expect(c.readyImages().map((i) => i.page?.page)).toEqual([1]);
    expect(c.dropErrors).toEqual([]);
    expect(pdfs.pending).toEqual([]);
  });

  it("refuses more pages than the message has room for", async () => {
    m("openPdf").mockResolvedValue(info(4));
    m("pdfPageCosts").mockResolvedValue(costs(4, 10, 1000));
    const c = new Composer();
    c.maxImages = 2;
    const pdfs = new PdfPages(c);
    await pdfs.addPaths(["/docs/report.pdf"]);
    const key = pdfs.pending[0]?.key ?? "";
    pdfs.selectAll(key, true);
    await pdfs.attach(key);
    expect(m("importPdfPage")).not.toHaveBeenCalled();
    expect(c.dropErrors[0]?.message).toContain("At most 2 images");
    expect(pdfs.pending[0]?.status).toBe("choosing");
  });

  it("turns a bad PDF into a drop error naming the file", async () => {
    m("openPdf").mockRejectedValue({ code: "pdf_encrypted", message: "secret.pdf: the PDF is encrypted and cannot be opened: it needs a password to open" });
    const c = new Composer();
    const pdfs = new PdfPages(c);
    await pdfs.addPaths(["/docs/secret.pdf"]);
    expect(pdfs.pending).toEqual([]);
    expect(c.dropErrors[0]?.message).toContain("needs a password");
  });

  it("renders each thumbnail once, one at a time", async () => {
    m("openPdf").mockResolvedValue(info(2));
    m("pdfPageCosts").mockRejectedValue({ code: "no_model_loaded", message: "no model" });
    m("pdfThumbnail").mockImplementation(async (_id: string, n: number) => `data:image/png;base64,${n}`);
    const c = new Composer();
    const pdfs = new PdfPages(c);
    await pdfs.addPaths(["/docs/report.pdf"]);
    const key = pdfs.pending[0]?.key ?? "";
    expect(pdfs.pending[0]?.costError?.code).toBe("no_model_loaded");
    const [a, b, again] = await Promise.all([pdfs.thumbnail(key, 1), pdfs.thumbnail(key, 2), pdfs.thumbnail(key, 1)]);
    expect([a, b, again]).toEqual(["data:image/png;base64,1", "data:image/png;base64,2", "data:image/png;base64,1"]);
    expect(m("pdfThumbnail")).toHaveBeenCalledTimes(2);
  });
});
