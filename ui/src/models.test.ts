import { beforeEach, describe, expect, it, vi } from "vitest";
import type { CatalogModel, DownloadEvent } from "./api";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      listCatalog: vi.fn(), listLocalModels: vi.fn(), modelsDiskUsage: vi.fn(), hubStatus: vi.fn(),
      downloadModel: vi.fn(), cancelDownload: vi.fn(), deleteModel: vi.fn(), loadModel: vi.fn(),
      modelStatus: vi.fn(), onDownloadProgress: vi.fn(), addLocalModel: vi.fn(),
    },
  };
});

const { api } = await import("./api");
const { createModels, recommended } = await import("./models");
const { catalogCard } = await import("./model-manager");
const { createStore, initialState, hasAnyModel } = await import("./state");
type AppState = import("./state").AppState;
const m = api as unknown as Record<string, ReturnType<typeof vi.fn>>;
const fn = (k: string) => m[k] as ReturnType<typeof vi.fn>;

const model = (over: Partial<CatalogModel> = {}): CatalogModel => ({
  id: "smolvlm-256m", repo: "HuggingFaceTB/SmolVLM-256M-Instruct", title: "SmolVLM 256M", format: "safetensors",
  downloadBytes: 1000, memoryBytes: 2000, tokensPerTile: 64, tileSize: 512, goodFor: "photos", isDefault: true,
  installed: false, partialBytes: 0, ...over,
});

let emit: (e: DownloadEvent) => void = () => undefined;
beforeEach(() => {
  vi.clearAllMocks();
  fn("listCatalog").mockResolvedValue([model()]);
  fn("listLocalModels").mockResolvedValue([]);
  fn("modelsDiskUsage").mockResolvedValue({ bytes: 0, cacheDir: "/cache" });
  fn("hubStatus").mockResolvedValue({ offline: false, endpoint: "https://huggingface.co" });
  fn("modelStatus").mockResolvedValue({ state: "loading", model: null, loading: "x", generationId: null, restarts: 0, lastError: null });
  fn("loadModel").mockResolvedValue({});
  fn("downloadModel").mockImplementation(async (_id: string, onEvent: (e: DownloadEvent) => void) => {
    emit = onEvent;
    return { downloadId: "d1" };
  });
});

const flush = () => new Promise((r) => setTimeout(r, 0));

describe("models", () => {
  it("refreshes catalog, local models, disk use and hub status", async () => {
    const store = createStore<AppState>(initialState());
    await createModels(store).refresh();
    expect(store.get()).toMatchObject({ modelsLoaded: true, disk: { bytes: 0 }, hub: { offline: false } });
    expect(hasAnyModel(store.get())).toBe(false);
    expect(recommended(store.get().catalog)?.id).toBe("smolvlm-256m");
  });

  it("downloads with a progress bar that reaches its max, then loads the first model", async () => {
    const store = createStore<AppState>(initialState());
    const models = createModels(store);
    await models.refresh();
    await models.download("smolvlm-256m");
    const bar = () => catalogCard(store.get().catalog[0] as CatalogModel, store.get(), models).querySelector<HTMLProgressElement>('[data-testid="progress"]');
    emit({ type: "started", files: 2, totalBytes: 1000 });
    emit({ type: "progress", file: "model.safetensors", fileBytes: 400, fileTotal: 900, bytes: 400, totalBytes: 1000, bytesPerS: 100, etaS: 6 });
    const card = catalogCard(store.get().catalog[0] as CatalogModel, store.get(), models);
    expect(card.querySelector('[data-testid="cancel-download"]')).not.toBeNull();
    expect(card.querySelector('[data-testid="download-button"]')).toBeNull();
    expect(card.querySelector(".progress-text")?.textContent).toContain("100 B/s");
    expect([bar()?.value, bar()?.max]).toEqual([400, 1000]);
    fn("listCatalog").mockResolvedValue([model({ installed: true, installedPath: "/models/256m" })]);
    emit({ type: "done", path: "/models/256m" });
    expect([bar()?.value, bar()?.max]).toEqual([1000, 1000]);
    await flush();
    await flush();
    expect(api.loadModel).toHaveBeenCalledWith("/models/256m");
    const after = catalogCard(store.get().catalog[0] as CatalogModel, store.get(), models);
    expect(after.textContent).toContain("Installed");
    expect(after.querySelector('[data-testid="delete-model"]')).not.toBeNull();
  });

  it("offers resume for a partial download and a disabled download offline", async () => {
    const store = createStore<AppState>({ ...initialState(), hub: { offline: true, endpoint: "x" } });
    const models = createModels(store);
    const partial = catalogCard(model({ partialBytes: 300 }), store.get(), models);
    const button = partial.querySelector<HTMLButtonElement>('[data-testid="download-button"]');
    expect(button?.textContent).toContain("Resume");
    expect(button?.disabled).toBe(true);
    expect(partial.querySelector<HTMLProgressElement>('[data-testid="progress"]')?.value).toBe(300);
  });

  it("shows a failed start as an error on the card", async () => {
    fn("downloadModel").mockRejectedValue({ code: "offline", message: "hub unreachable" });
    const store = createStore<AppState>(initialState());
    const models = createModels(store);
    await models.refresh();
    await models.download("smolvlm-256m");
    const card = catalogCard(store.get().catalog[0] as CatalogModel, store.get(), models);
    expect(card.querySelector(".inline-error")?.textContent).toContain("hub unreachable");
    expect(card.querySelector('[data-testid="download-button"]')?.textContent).toContain("Retry");
  });
});
