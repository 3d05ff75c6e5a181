import { beforeEach, describe, expect, it, vi } from "vitest";
import type { ImageCost, StoredImage } from "./api";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      takeOpenedFiles: vi.fn(),
      onFilesOpened: vi.fn(),
      importImage: vi.fn(),
      imageCost: vi.fn(),
      addLocalModel: vi.fn(),
      openPdf: vi.fn(),
      pdfPageCosts: vi.fn(),
      closePdf: vi.fn(async () => true),
    },
  };
});

const { api } = await import("./api");
const { Composer } = await import("./composer");
const { handleDrop } = await import("./dragdrop");
const { createOpenedFiles } = await import("./opened");
const { PdfPages } = await import("./pdf-pages");

const mocked = vi.mocked(api);

function stored(path: string): StoredImage {
  const name = path.split("/").pop() ?? path;
  return { sha256: name, file: `/store/${name}`, originalName: name, width: 300, height: 200 };
}

const COST: ImageCost = {
  width: 300, height: 200, resizedWidth: 512, resizedHeight: 341, rows: 0, cols: 0, frames: 1, tokens: 64,
  tileSize: 512, defaultLongestEdge: 2048, maxLongestEdge: 2048, presets: { fast: 1024, standard: 2048, document: 2048 },
};

/** The app's wiring (main.ts): a new chat, then the files dropped on its composer. */
function setup() {
  const composer = new Composer();
  const pdfs = new PdfPages(composer);
  const steps: string[] = [];
  const opened = createOpenedFiles({
    newChat: async () => {
      steps.push(`new chat (composer had ${composer.attachments.length})`);
    },
    drop: async (paths) => {
      steps.push(`drop ${paths.join(" ")}`);
      await handleDrop(paths, { composer, pdfs, addModel: vi.fn() });
    },
  });
  return { composer, pdfs, steps, opened };
}

beforeEach(() => {
  vi.clearAllMocks();
  mocked.importImage.mockImplementation(async (path: string) => stored(path));
  mocked.imageCost.mockResolvedValue(COST);
  mocked.openPdf.mockResolvedValue({ id: "d1", name: "report.pdf", pages: [{ number: 1, widthPt: 612, heightPt: 792 }] });
  mocked.pdfPageCosts.mockResolvedValue({ longestEdge: 2048, pages: [COST], budgetTokens: 4096 });
});

describe("files opened with the app", () => {
  it("start a new chat with the images attached and the PDFs' pages to choose, as a drop", async () => {
    mocked.takeOpenedFiles.mockResolvedValueOnce(["/home/u/cat.png", "/home/u/report.pdf"]);
    const { composer, pdfs, steps, opened } = setup();
    expect(await opened.take()).toBe(true);
    expect(steps).toEqual(["new chat (composer had 0)", "drop /home/u/cat.png /home/u/report.pdf"]);
    expect(mocked.importImage).toHaveBeenCalledWith("/home/u/cat.png");
    expect(composer.attachments.map((a) => [a.name, a.status])).toEqual([["cat.png", "ready"]]);
    expect(mocked.openPdf).toHaveBeenCalledWith("/home/u/report.pdf");
    expect(pdfs.pending.map((p) => [p.name, p.status])).toEqual([["report.pdf", "choosing"]]);
    expect(composer.dropErrors).toEqual([]);
  });

  it("leave the chat alone when there are none", async () => {
    mocked.takeOpenedFiles.mockResolvedValueOnce([]);
    const { steps, opened } = setup();
    expect(await opened.take()).toBe(false);
    expect(steps).toEqual([]);
  });

  it("arriving later are taken when the backend says so, one launch at a time", async () => {
    let announce: () => void = () => undefined;
    mocked.onFilesOpened.mockImplementation(async (f: () => void) => {
      announce = f;
      return () => undefined;
    });
    mocked.takeOpenedFiles
      .mockResolvedValueOnce(["/a/one.png"])
      .mockResolvedValueOnce(["/a/two.jpg"])
      .mockResolvedValue([]);
    const { composer, steps, opened } = setup();
    await opened.listen();
    announce();
    announce();
    announce(); // a third event finds nothing left
    await vi.waitFor(() => expect(mocked.takeOpenedFiles).toHaveBeenCalledTimes(3));
    await vi.waitFor(() => expect(composer.attachments).toHaveLength(2));
    expect(steps).toEqual([
      "new chat (composer had 0)",
      "drop /a/one.png",
      "new chat (composer had 1)",
      "drop /a/two.jpg",
    ]);
  });
});
