// The model manager dialog (catalog with downloads, local models, disk use) and the catalog card
// that the first-run screen shares.

import { api, toApiError, type CatalogModel, type LocalModel } from "./api";
import { confirmDialog } from "./confirm";
import { h, keepFocus, setChildren } from "./dom";
import { isActive, type DownloadState } from "./downloads";
import { deviceLabel, formatBytes, formatEta, formatRate } from "./format";
import { icon } from "./icons";
import type { ModelsController } from "./models";
import { watch, type AppState, type Store } from "./state";
import { toast } from "./toast";

function badge(text: string, cls = ""): HTMLElement {
  return h("span", { class: `badge ${cls}`.trim(), text });
}

function progressBlock(d: DownloadState | undefined, m: CatalogModel): HTMLElement | null {
  const active = isActive(d);
  const finished = d?.phase === "done";
  if (!active && !finished && !(d && (d.phase === "cancelled" || d.phase === "error")) && !(m.partialBytes > 0 && !m.installed)) {
    return null;
  }
  const total = d && d.totalBytes > 0 ? d.totalBytes : m.downloadBytes;
  const done = d && (d.bytes > 0 || active) ? d.bytes : m.partialBytes;
  const bar = h("progress", { class: "progress", testid: "progress", max: Math.max(1, total), "aria-label": `Download of ${m.title}` });
  bar.value = Math.min(done, total);
  const parts = [`${formatBytes(done)} of ${formatBytes(total)}`];
  if (finished) parts.splice(0, 1, `Downloaded ${formatBytes(total)}`);
  else if (d?.phase === "starting") parts.push("starting…");
  else if (active && d) parts.push(formatRate(d.bytesPerS), `${formatEta(d.etaS)} left`);
  else if (d?.phase === "cancelled" || (!d && m.partialBytes > 0)) parts.push("paused: download again to resume");
  const block = h("div", { class: "download-progress" }, bar, h("div", { class: "progress-text", text: parts.join(" · ") }));
  if (active && d && d.file) {
    const fileBar = h("progress", { class: "progress file", testid: "file-progress", max: Math.max(1, d.fileTotal), "aria-label": `Download of ${d.file}` });
    fileBar.value = Math.min(d.fileBytes, d.fileTotal);
    const filesText = d.files > 0 ? `file ${Math.min(d.filesDone + 1, d.files)} of ${d.files}: ` : "";
    block.append(fileBar, h("div", { class: "progress-text small", text: `${filesText}${d.file} · ${formatBytes(d.fileBytes)} of ${formatBytes(d.fileTotal)}` }));
  }
  if (d?.phase === "error" && d.error) {
    block.append(h("div", { class: "inline-error", role: "alert", text: `${d.error.message} (${d.error.code})` }));
  }
  return block;
}

/** The offline notice, with a button that asks the hub again. */
export function offlineNotice(text: string, models: ModelsController): HTMLElement {
  const retry = h("button", { type: "button", class: "button small-button", testid: "hub-retry" }, icon("refresh"), h("span", { text: "Try again" }));
  retry.addEventListener("click", () => {
    retry.disabled = true;
    void models.refresh().finally(() => {
      retry.disabled = false;
    });
  });
  return h("div", { class: "notice warn", role: "status", testid: "offline-notice" }, icon("offline"), h("span", { class: "notice-text", text }), retry);
}

export function catalogCard(m: CatalogModel, s: AppState, models: ModelsController, opts: { big?: boolean } = {}): HTMLElement {
  const d = s.downloads[m.id];
  const active = isActive(d);
  const loaded = m.installed && m.installedPath !== undefined && s.status?.model?.path === m.installedPath;
  const offline = s.hub?.offline === true;
  const actions = h("div", { class: "card-actions" });
  if (active) {
    const cancel = h("button", { type: "button", class: "button", testid: "cancel-download" }, icon("x"), h("span", { text: "Cancel" }));
    cancel.addEventListener("click", () => void models.cancel(m.id));
    actions.append(cancel);
  } else if (m.installed) {
    if (loaded) {
      actions.append(badge("Loaded", "ok"));
    } else if (m.installedPath) {
      const path = m.installedPath;
      const load = h("button", { type: "button", class: "button primary", testid: "load-model", disabled: s.status?.state === "loading" || s.status?.state === "generating" }, icon("play"), h("span", { text: "Load" }));
      load.addEventListener("click", () => void models.load(path));
      actions.append(load);
    }
  } else {
    const resumable = m.partialBytes > 0 || d?.phase === "cancelled" || (d?.phase === "error" && d.bytes > 0);
    const partial = resumable || d?.phase === "error";
    const label = resumable ? "Resume" : partial ? "Retry" : opts.big ? `Download ${formatBytes(m.downloadBytes)}` : "Download";
    const dl = h("button", { type: "button", class: `button ${opts.big || !partial ? "primary" : ""}`, testid: "download-button", disabled: offline, title: offline ? "Offline: downloads need a connection to the hub" : `Download ${formatBytes(m.downloadBytes)} from ${m.repo}` },
      icon("download"), h("span", { text: label }));
    dl.addEventListener("click", () => void models.download(m.id));
    actions.append(dl);
  }
  if (!active && (m.installed || m.partialBytes > 0)) {
    const del = h("button", { type: "button", class: "icon-button danger", testid: "delete-model", "aria-label": `Delete ${m.title}`, title: m.installed ? "Delete the downloaded files" : "Delete the partial download" }, icon("trash"));
    del.addEventListener("click", () => {
      void (async () => {
        const ok = await confirmDialog({
          title: `Delete ${m.title}?`,
          message: m.installed
            ? `Its files (${formatBytes(m.downloadBytes)}) will be removed from disk. You can download it again later.`
            : `The partial download (${formatBytes(m.partialBytes)}) will be removed.`,
          confirmLabel: "Delete",
          danger: true,
        });
        if (ok) await models.remove(m.id);
      })();
    });
    actions.append(del);
  }
  const badges = h("div", { class: "badges" },
    m.isDefault ? badge("Recommended", "accent") : null,
    badge(m.format === "gguf" ? `GGUF${m.quant ? ` ${m.quant}` : ""}` : "safetensors"),
    m.installed ? badge("Installed", "ok") : null);
  return h("li", { class: `model-card${opts.big ? " big" : ""}${loaded ? " loaded" : ""}`, testid: "catalog-item", "data-id": m.id },
    h("div", { class: "card-main" },
      h("div", { class: "card-title-row" }, h("h3", { class: "card-title", text: m.title }), badges),
      h("div", { class: "card-repo", text: m.repo }),
      h("p", { class: "card-goodfor", text: m.goodFor }),
      h("div", { class: "card-facts" },
        h("span", { text: `Download ${formatBytes(m.downloadBytes)}` }),
        h("span", { text: `Memory ≈ ${formatBytes(m.memoryBytes)}` }),
        h("span", { text: `${m.tokensPerTile} tokens per ${m.tileSize}px tile` }))),
    actions,
    progressBlock(d, m));
}

function localItem(l: LocalModel, s: AppState, models: ModelsController): HTMLElement {
  const loaded = s.status?.model?.path === l.path;
  const actions = h("div", { class: "card-actions" });
  if (loaded) actions.append(badge("Loaded", "ok"));
  else {
    const load = h("button", { type: "button", class: "button", testid: "load-model", disabled: s.status?.state === "loading" || s.status?.state === "generating" }, icon("play"), h("span", { text: "Load" }));
    load.addEventListener("click", () => void models.load(l.path));
    actions.append(load);
  }
  return h("li", { class: `model-card compact${loaded ? " loaded" : ""}`, testid: "local-model-item", "data-id": l.id },
    h("div", { class: "card-main" },
      h("div", { class: "card-title-row" }, h("h3", { class: "card-title", text: l.name }), l.mmproj ? badge("vision") : null),
      h("div", { class: "card-repo", text: l.path, title: l.path })),
    actions);
}

/** Picks a .gguf file (or a folder) and adds it as a local model. */
export async function pickAndAddLocal(models: ModelsController, folder: boolean): Promise<void> {
  try {
    const path = await api.pickModel(folder);
    if (!path) return;
    const m = await models.addLocal(path);
    toast(`Added ${m.name}`);
  } catch (e) {
    toast(`Could not add the model: ${toApiError(e).message}`, "error");
  }
}

export interface ModelManager {
  el: HTMLDialogElement;
  open(): void;
}

export function createModelManager(store: Store<AppState>, models: ModelsController): ModelManager {
  const body = h("div", { class: "dialog-body" });
  const close = h("button", { type: "button", class: "icon-button", "aria-label": "Close", testid: "model-manager-close" }, icon("x"));
  const dialog = h("dialog", { class: "dialog wide", testid: "model-manager", "aria-labelledby": "models-title" },
    h("header", { class: "dialog-head" }, h("h2", { id: "models-title", class: "dialog-title", text: "Models" }), close),
    body);
  close.addEventListener("click", () => dialog.close());

  function render(s: AppState): void {
    if (!dialog.open) return;
    const status = s.status;
    const current = status?.model
      ? h("div", { class: "current-model" },
          icon("cpu"),
          h("div", null, h("strong", { text: status.model.name }), h("div", { class: "muted", text: `${deviceLabel(status.model)} · ${status.model.hasVision ? "vision" : "text only"} · context ${status.model.contextLength.toLocaleString("en-US")}` })),
          h("span", { class: "spacer" }),
          (() => {
            const b = h("button", { type: "button", class: "button", testid: "unload-model", disabled: status.state !== "ready" }, icon("eject"), h("span", { text: "Unload" }));
            b.addEventListener("click", () => void models.unload());
            return b;
          })())
      : h("div", { class: "current-model muted" }, icon("cpu"), h("span", { text: status?.state === "loading" ? `Loading ${status.loading ?? ""}…` : "No model loaded." }));

    const offline = s.hub?.offline
      ? offlineNotice(`Offline: the model hub (${s.hub.endpoint}) cannot be reached, so downloads will not start. Models already on disk still work.`, models)
      : null;

    const addFile = h("button", { type: "button", class: "button", testid: "add-local-model" }, icon("plus"), h("span", { text: "Add GGUF file…" }));
    addFile.addEventListener("click", () => void pickAndAddLocal(models, false));
    const addFolder = h("button", { type: "button", class: "button", testid: "add-local-folder" }, icon("folder"), h("span", { text: "Add model folder…" }));
    addFolder.addEventListener("click", () => void pickAndAddLocal(models, true));

    keepFocus(body, () => setChildren(body,
      current,
      offline,
      h("section", { class: "dialog-section", "aria-labelledby": "catalog-title" },
        h("div", { class: "section-head" }, h("h3", { id: "catalog-title", class: "section-title", text: "Catalog" }),
          h("span", { class: "muted", testid: "disk-usage", text: s.disk ? `Models use ${formatBytes(s.disk.bytes)} on disk` : "" , title: s.disk?.cacheDir ?? "" })),
        s.catalog.length === 0
          ? h("p", { class: "muted", text: s.modelsLoaded ? "The catalog is empty." : "Loading the catalog…" })
          : h("ul", { class: "model-list" }, ...s.catalog.map((m) => catalogCard(m, s, models)))),
      h("section", { class: "dialog-section", "aria-labelledby": "local-title" },
        h("div", { class: "section-head" }, h("h3", { id: "local-title", class: "section-title", text: "On this computer" }),
          h("div", { class: "section-actions" }, addFolder, addFile)),
        s.localModels.length === 0
          ? h("p", { class: "muted", text: "Add a .gguf file or a model folder (config.json + safetensors), or drop one on the window." })
          : h("ul", { class: "model-list" }, ...s.localModels.map((l) => localItem(l, s, models)))),
      s.disk ? h("p", { class: "muted small", text: `Download folder: ${s.disk.cacheDir}` }) : null,
    ));
  }

  dialog.addEventListener("close", () => body.replaceChildren());
  watch(store, (s) => [s.catalog, s.localModels, s.downloads, s.status, s.hub, s.disk, s.modelsLoaded] as const, render);

  return {
    el: dialog,
    open() {
      if (!dialog.open) dialog.showModal();
      render(store.get());
      void models.refresh();
    },
  };
}
