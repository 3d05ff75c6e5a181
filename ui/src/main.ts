// SmolVLM Desktop's window: wires the store, the controllers and the views, then reads the
// backend's state and listens to its events. Every view builds DOM with textContent or sanitized
// markdown only (model output is untrusted).

import { api, toApiError, type ModelStatus } from "./api";
import { createChat } from "./chat";
import { createChatView } from "./chat-view";
import { Composer } from "./composer";
import { createComposerView } from "./composer-view";
import { activeConnection } from "./connections";
import { h, setChildren } from "./dom";
import { createDropOverlay, handleDrop, setupDragDrop, setupPaste, type DropDeps } from "./dragdrop";
import { createFirstRun } from "./first-run";
import { icon } from "./icons";
import { createModelManager } from "./model-manager";
import { createModels } from "./models";
import { createOpenedFiles } from "./opened";
import { PdfPages } from "./pdf-pages";
import { createSettingsDialog } from "./settings";
import { createSidebar, displayTitle } from "./sidebar";
import { createStatusBar } from "./statusbar";
import { createStore, hasAnyModel, initialState, isGenerating, watch, type AppState } from "./state";
import { applyTheme } from "./theme";
import { toast } from "./toast";

const store = createStore<AppState>(initialState());
const chat = createChat(store);
const models = createModels(store);
const composer = new Composer();
const pdfs = new PdfPages(composer);

const manager = createModelManager(store, models);
const settingsDialog = createSettingsDialog(store, (s) => void composer.setPreset(s.resolution).then(() => pdfs.refreshCosts()));
const openModels = () => manager.open();
const openSettings = () => settingsDialog.open();

const composerView = createComposerView({ store, composer, pdfs, chat });
const dropDeps: DropDeps = { composer, pdfs, addModel: (p) => models.addLocal(p) };
// Files opened with the app ("Open with", a later launch's) start a new chat, attached as a drop.
const opened = createOpenedFiles({
  newChat: () => chat.newConversation().then(() => composerView.focus()),
  drop: (paths) => handleDrop(paths, dropDeps),
});

const SUGGESTIONS = [
  "Describe this image in detail.",
  "What text is in this screenshot?",
  "Summarize this document page.",
  "What is unusual about this picture?",
];

/** The models on this computer: installed from the catalog, and added local files. */
function loadableModels(s: AppState): { name: string; path: string }[] {
  return [
    ...s.catalog.flatMap((m) => (m.installed && m.installedPath ? [{ name: m.title, path: m.installedPath }] : [])),
    ...s.localModels.map((l) => ({ name: l.name, path: l.path })),
  ];
}

function emptyState(): HTMLElement {
  const s = store.get();
  const state = s.status?.state;
  const wrap = h("div", { class: "empty-state" }, h("div", { class: "hero-mark", "aria-hidden": "true" }, icon("sparkle")));
  if (state === "loading") {
    wrap.append(h("h2", { text: "Loading the model…" }), h("p", { class: "muted", text: s.status?.loading ?? "" }));
    return wrap;
  }
  const remote = activeConnection(s.settings);
  if (!s.status?.model && !remote) {
    const loadable = loadableModels(s);
    const last = s.settings?.lastModel;
    loadable.sort((a, b) => Number(b.path === last) - Number(a.path === last));
    wrap.append(h("h2", { text: "No model loaded" }),
      h("p", { class: "muted", text: loadable.length > 0 ? "Load one of your models to start." : "Download or add a model to start." }));
    const buttons = h("div", { class: "suggestions" }, ...loadable.slice(0, 4).map((m) => {
      const b = h("button", { type: "button", class: "button", testid: "quick-load" }, icon("play"), h("span", { text: m.name }));
      b.addEventListener("click", () => void models.load(m.path));
      return b;
    }));
    const more = h("button", { type: "button", class: "button ghost" }, icon("cube"), h("span", { text: "Open models" }));
    more.addEventListener("click", openModels);
    buttons.append(more);
    wrap.append(buttons);
    return wrap;
  }
  wrap.append(
    h("h2", { text: "What would you like to know?" }),
    h("p", { class: "muted", text: remote
      ? `Drop, paste or attach images, then ask about them. ${remote.name} answers (change it in Settings).`
      : "Drop, paste or attach images, then ask about them. Everything runs on this computer." }),
    h("div", { class: "suggestions" }, ...SUGGESTIONS.map((text) => {
      const b = h("button", { type: "button", class: "chip", text });
      b.addEventListener("click", () => composerView.setText(text));
      return b;
    })));
  return wrap;
}

const chatView = createChatView({ store, chat, longestEdge: () => composer.longestEdge(), emptyState });
const firstRun = createFirstRun(store, models, openModels, openSettings);
const sidebar = createSidebar({ store, chat, openModels, openSettings });
const statusBar = createStatusBar(store, openModels, openSettings);
const overlay = createDropOverlay();

const title = h("h1", { class: "topbar-title", text: "New chat" });
const modelChip = h("button", { type: "button", class: "model-chip", title: "Models", "aria-label": "Choose a model" });
modelChip.addEventListener("click", openModels);
const sidebarToggle = h("button", { type: "button", class: "icon-button", testid: "toggle-sidebar", "aria-label": "Show or hide the conversation list (Ctrl+B)", title: "Conversations (Ctrl+B)", "aria-expanded": "true" }, icon("sidebar"));
const topbar = h("header", { class: "topbar" }, sidebarToggle, title, modelChip);
// The first-run screen takes the place of the messages; the composer stays (it says what to do).
const chatArea = h("div", { class: "chat-area" }, chatView, firstRun, composerView.el);

const app = h("div", { class: "app", testid: "app" },
  sidebar,
  h("main", { class: "main" }, topbar, chatArea, statusBar),
  overlay.el,
  manager.el,
  settingsDialog.el);

function toggleSidebar(show?: boolean): void {
  const hidden = show === undefined ? !app.classList.contains("sidebar-hidden") : !show;
  app.classList.toggle("sidebar-hidden", hidden);
  sidebarToggle.setAttribute("aria-expanded", String(!hidden));
}
sidebarToggle.addEventListener("click", () => toggleSidebar());
// Narrow windows start with the list folded away.
if (window.matchMedia?.("(max-width: 620px)").matches) toggleSidebar(false);

const mount = document.getElementById("app");
if (mount) mount.replaceWith(app);
else document.body.append(app);

watch(store, (s) => [s.conversation, s.currentId, s.conversations] as const, (s) => {
  const summary = s.conversations.find((c) => c.id === s.currentId);
  const t = s.conversation?.title || summary?.title || "";
  title.textContent = s.currentId ? displayTitle({ title: t }) : "New chat";
  document.title = s.currentId && t ? `${t} · SmolVLM Desktop` : "SmolVLM Desktop";
});

watch(store, (s) => [s.status, s.modelsLoaded, s.catalog, s.localModels, s.settings] as const, (s) => {
  const m = s.status?.model;
  setChildren(modelChip,
    h("span", { class: `status-dot state-${s.status?.state ?? "starting"}`, "aria-hidden": "true" }),
    h("span", { class: "chip-name", text: m ? m.name : s.status?.state === "loading" ? "Loading…" : "No model" }),
    m ? h("span", { class: "chip-device", text: m.device }) : null);
  // With a connection answering, the chat works without any model here.
  const first = s.modelsLoaded && !hasAnyModel(s) && !activeConnection(s.settings);
  firstRun.hidden = !first;
  chatView.hidden = first;
});
store.set({});

function onStatus(st: ModelStatus): void {
  const prev = store.get().status;
  store.set({ status: st });
  if (prev?.model?.path !== st.model?.path) {
    void composer.modelChanged().then(() => pdfs.refreshCosts());
    if (st.model) void models.refresh();
  }
}

document.addEventListener("keydown", (ev) => {
  const mod = ev.ctrlKey || ev.metaKey;
  if (ev.key === "Escape" && !ev.defaultPrevented) {
    if (document.querySelector("dialog[open]")) return; // the dialog closes itself
    if (isGenerating(store.get())) {
      ev.preventDefault();
      void chat.stop();
    }
  } else if (mod && !ev.shiftKey && !ev.altKey && ev.key.toLowerCase() === "n") {
    ev.preventDefault();
    void chat.newConversation().then(() => composerView.focus());
  } else if (mod && !ev.shiftKey && ev.key.toLowerCase() === "b") {
    ev.preventDefault();
    toggleSidebar();
  } else if (mod && ev.key === ",") {
    ev.preventDefault();
    openSettings();
  }
});

async function boot(): Promise<void> {
  applyTheme("system");
  const settled = <T>(p: Promise<T>) => p.then((v) => v, () => null);
  const [info, status, settings] = await Promise.all([
    settled(api.appInfo()),
    settled(api.modelStatus()),
    settled(api.getSettings()),
  ]);
  store.set({ info, settings });
  if (status) onStatus(status);
  if (info) composer.maxImages = info.maxImagesPerMessage;
  if (settings) {
    applyTheme(settings.theme);
    composer.preset = settings.resolution;
  }
  await Promise.all([
    api.onModelStatus(onStatus).catch(() => undefined),
    models.listen().catch(() => undefined),
    setupDragDrop(dropDeps, overlay).catch(() => undefined),
    opened.listen().catch(() => undefined),
  ]);
  setupPaste(composer, pdfs);
  await Promise.all([
    models.refresh().catch(() => undefined),
    (async () => {
      const readError = (e: unknown) => toast(`Could not read conversations: ${toApiError(e).message}`, "error");
      const listed = await chat.refreshList().then(() => true, (e: unknown) => (readError(e), false));
      // Opened files get a new chat instead of the latest one, even when the list is unreadable.
      const openedAny = await opened.take().catch((e: unknown) => {
        toast(`Could not open the files: ${toApiError(e).message}`, "error");
        return false;
      });
      const latest = store.get().conversations[0];
      if (listed && !openedAny && latest && !store.get().currentId) await chat.open(latest.id).catch(readError);
    })(),
  ]);
  // Start with the last session's model, if it is still on this computer and nothing is loaded or
  // loading (the empty state shows the load as it happens; a failure is reported like any other).
  const s = store.get();
  const last = s.settings?.lastModel;
  if (last && !s.status?.model && s.status?.state !== "loading" && loadableModels(s).some((m) => m.path === last)) {
    void models.load(last);
  }
  composerView.focus();
}

void boot();
