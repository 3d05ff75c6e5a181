// The first-run screen: no model installed or known. It leads to the recommended model, offers a
// model from disk, and says plainly when the hub cannot be reached.

import { h, keepFocus, setChildren } from "./dom";
import { icon } from "./icons";
import { catalogCard, offlineNotice, pickAndAddLocal } from "./model-manager";
import { recommended, type ModelsController } from "./models";
import { watch, type AppState, type Store } from "./state";

export function createFirstRun(store: Store<AppState>, models: ModelsController, openManager: () => void, openSettings?: () => void): HTMLElement {
  const card = h("ul", { class: "model-list" });
  const offline = h("div");
  const addLocal = h("button", { type: "button", class: "button", testid: "first-run-add-local" }, icon("folder"), h("span", { text: "Use a model on this computer…" }));
  addLocal.addEventListener("click", () => void pickAndAddLocal(models, false));
  const browse = h("button", { type: "button", class: "button ghost", testid: "first-run-browse" }, icon("cube"), h("span", { text: "See all models" }));
  browse.addEventListener("click", openManager);
  const connect = openSettings
    ? h("button", { type: "button", class: "button ghost", testid: "first-run-connect" }, icon("sliders"), h("span", { text: "Answer with a server instead…" }))
    : null;
  connect?.addEventListener("click", openSettings ?? (() => undefined));

  const root = h("section", { class: "first-run", testid: "first-run", "aria-labelledby": "first-run-title" },
    h("div", { class: "first-run-inner" },
      h("div", { class: "hero-mark", "aria-hidden": "true" }, icon("sparkle")),
      h("h1", { id: "first-run-title", text: "Welcome to SmolVLM Desktop" }),
      h("p", { class: "lead", text: "Ask questions about photos, screenshots and documents with a small vision-language model that runs entirely on this computer. Nothing you show it leaves your machine." }),
      offline,
      h("h2", { class: "section-title", text: "Start with the recommended model" }),
      card,
      h("div", { class: "first-run-actions" }, addLocal, browse, connect),
      h("p", { class: "muted small", text: "You can also drop a .gguf file or a model folder onto this window, or let an OpenAI-compatible server answer (Settings → Connections)." })));

  function render(s: AppState): void {
    const rec = recommended(s.catalog);
    keepFocus(root, () => {
      setChildren(card, rec ? catalogCard(rec, s, models, { big: true }) : h("li", { class: "muted", text: "The model catalog is not available." }));
      setChildren(offline, s.hub?.offline
        ? offlineNotice(`You are offline: the model hub (${s.hub.endpoint}) cannot be reached, so the model cannot be downloaded now. Connect to the internet and try again, or use a model you already have on disk.`, models)
        : null);
    });
  }

  watch(store, (s) => [s.catalog, s.downloads, s.hub, s.status] as const, render);
  render(store.get());
  return root;
}
