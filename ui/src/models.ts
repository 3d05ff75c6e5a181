// Models: the catalog, downloads (with progress from the channel and from the app event every
// window sees), local models, loading, deleting, disk use and hub reachability. No DOM here.

import { api, toApiError, type CatalogModel, type DownloadEvent, type LocalModel } from "./api";
import { applyDownloadEvent, isActive, newDownload } from "./downloads";
import { hasAnyModel, type AppState, type Store } from "./state";
import { toast } from "./toast";

export interface ModelsController {
  refresh(): Promise<void>;
  download(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  remove(id: string): Promise<void>;
  load(path: string): Promise<void>;
  unload(): Promise<void>;
  addLocal(path: string): Promise<LocalModel>;
  listen(): Promise<void>;
}

/** The recommended model: the catalog's default, else its first entry. */
export function recommended(catalog: readonly CatalogModel[]): CatalogModel | null {
  return catalog.find((m) => m.isDefault) ?? catalog[0] ?? null;
}

export function createModels(store: Store<AppState>): ModelsController {
  /** Downloads this window started: their channel is the source, the broadcast is ignored. */
  const own = new Set<string>();
  /** Downloads started when no model was known (the first run): load the model when done. */
  const loadWhenDone = new Set<string>();

  function apply(id: string, e: DownloadEvent): void {
    const downloads = { ...store.get().downloads };
    downloads[id] = applyDownloadEvent(downloads[id], e);
    store.set({ downloads });
    if (e.type === "done" || e.type === "cancelled" || e.type === "error") {
      own.delete(id);
      void refresh();
      if (e.type === "done") void afterDownload(id, e.path);
      if (e.type === "error") toast(`Download failed: ${e.message}`, "error");
    }
  }

  async function afterDownload(id: string, path: string): Promise<void> {
    const s = store.get();
    const title = s.catalog.find((m) => m.id === id)?.title ?? id;
    toast(`${title} downloaded`);
    // On the first run the model just downloaded is the one the user wants.
    const wanted = loadWhenDone.delete(id);
    if (wanted && !s.status?.model && s.status?.state !== "loading") await load(path);
  }

  async function refresh(): Promise<void> {
    const [catalog, localModels, disk, hub] = await Promise.all([
      api.listCatalog().catch(() => store.get().catalog),
      api.listLocalModels().catch(() => store.get().localModels),
      api.modelsDiskUsage().catch(() => store.get().disk),
      api.hubStatus().catch(() => store.get().hub),
    ]);
    store.set({ catalog, localModels, disk, hub, modelsLoaded: true });
  }

  async function download(id: string): Promise<void> {
    if (isActive(store.get().downloads[id])) return;
    own.add(id);
    if (!hasAnyModel(store.get())) loadWhenDone.add(id);
    const downloads = { ...store.get().downloads };
    downloads[id] = newDownload();
    store.set({ downloads });
    try {
      await api.downloadModel(id, (e) => apply(id, e));
    } catch (e) {
      own.delete(id);
      apply(id, { type: "error", ...toApiError(e) });
    }
  }

  async function cancel(id: string): Promise<void> {
    await api.cancelDownload(id).catch((e: unknown) => toast(`Could not cancel: ${toApiError(e).message}`, "error"));
  }

  async function remove(id: string): Promise<void> {
    try {
      await api.deleteModel(id);
      const downloads = { ...store.get().downloads };
      delete downloads[id];
      store.set({ downloads });
    } catch (e) {
      toast(`Could not delete: ${toApiError(e).message}`, "error");
    }
    await refresh();
  }

  async function load(path: string): Promise<void> {
    try {
      await api.loadModel(path);
    } catch (e) {
      toast(`Could not load the model: ${toApiError(e).message}`, "error");
    }
    store.set({ status: await api.modelStatus().catch(() => store.get().status) });
  }

  async function unload(): Promise<void> {
    await api.unloadModel().catch((e: unknown) => toast(`Could not unload: ${toApiError(e).message}`, "error"));
  }

  async function addLocal(path: string): Promise<LocalModel> {
    const model = await api.addLocalModel(path);
    await refresh();
    store.set({ status: await api.modelStatus().catch(() => store.get().status) });
    return model;
  }

  async function listen(): Promise<void> {
    await api.onDownloadProgress(({ id, event }) => {
      if (!own.has(id)) apply(id, event);
    });
  }

  return { refresh, download, cancel, remove, load, unload, addLocal, listen };
}
