// The composer's DOM: the text box, image thumbnails with their cost, the page strips of PDFs
// being added, the resolution control with each preset's cost, attach / send / stop, and inline
// drop errors.

import { api, toApiError, type ApiError } from "./api";
import { imageSrc } from "./assets";
import type { ChatController } from "./chat";
import { describeCost, describeTotals, type Attachment, type Composer } from "./composer";
import { activeConnection } from "./connections";
import { h, setChildren } from "./dom";
import { icon } from "./icons";
import { planDrop } from "./files";
import { openLightbox } from "./lightbox";
import { createPageStripView } from "./page-strip";
import type { PdfPages } from "./pdf-pages";
import { PRESETS, presetInfo, presetLabel, type ResolutionPreset } from "./resolution";
import { isGenerating, watch, type AppState, type Store } from "./state";

export interface ComposerViewDeps {
  store: Store<AppState>;
  composer: Composer;
  pdfs: PdfPages;
  chat: ChatController;
}

export interface ComposerView {
  el: HTMLElement;
  focus(): void;
  submit(): Promise<void>;
  /** Puts text in the box (a suggestion) and focuses it. */
  setText(text: string): void;
}

function thumb(a: Attachment, composer: Composer): HTMLElement {
  const remove = h("button", { type: "button", class: "thumb-remove", testid: "remove-image", "aria-label": `Remove ${a.name}`, title: "Remove" }, icon("x"));
  remove.addEventListener("click", () => composer.remove(a.key));
  let view: HTMLElement;
  if (a.image) {
    const src = imageSrc(a.image.file);
    const caption = `${a.name} · ${a.image.width}×${a.image.height}`;
    const page = a.image.page;
    view = h("button", { type: "button", class: page ? "thumb-view page" : "thumb-view", "aria-label": `View ${a.name}`, title: caption },
      h("img", { src, alt: a.name, decoding: "async" }),
      page ? h("span", { class: "thumb-page", testid: "thumb-page", text: `p. ${page.page}` }) : null);
    view.addEventListener("click", () => openLightbox(src, caption));
  } else {
    view = h("div", { class: "thumb-view loading", "aria-label": `Importing ${a.name}` }, h("span", { class: "spinner" }));
  }
  let badge: HTMLElement | null = null;
  if (a.cost) {
    badge = h("span", { class: "thumb-cost", title: describeCost(a.cost), text: `${a.cost.tokens.toLocaleString("en-US")} tok` });
  } else if (a.status === "ready" && !a.costError) {
    badge = h("span", { class: "thumb-cost muted", text: "…" });
  }
  return h("div", { class: `thumb ${a.status}`, testid: "composer-image", "data-status": a.status, title: a.name }, view, remove, badge);
}

export function createComposerView(deps: ComposerViewDeps): ComposerView {
  const { store, composer, pdfs, chat } = deps;

  const input = h("textarea", {
    class: "composer-input",
    testid: "composer-input",
    rows: 1,
    "aria-label": "Message",
    placeholder: "Ask anything about your images…",
  });
  const images = h("div", { class: "composer-images", "aria-label": "Attached images" });
  const dropErrors = h("div", { class: "drop-errors", "aria-live": "polite" });
  const attach = h("button", { type: "button", class: "icon-button", testid: "attach", "aria-label": "Attach images or PDFs", title: "Attach images or PDFs (or drop / paste them)" }, icon("paperclip"));
  const strips = createPageStripView(pdfs, () => composer.room());
  const resolution = h("select", { class: "select small", testid: "resolution", id: "resolution", "aria-label": "Image resolution", title: "Image resolution: more tiles read finer detail and cost more tokens" },
    ...PRESETS.map((p) => h("option", { value: p.id, title: p.hint, text: p.label, testid: `resolution-${p.id}` })));
  const cost = h("span", { class: "image-cost", testid: "image-cost", "aria-live": "polite" });
  const stop = h("button", { type: "button", class: "button stop", testid: "stop", "aria-label": "Stop generating (Esc)", title: "Stop (Esc)" }, icon("stop", "icon icon-fill"), h("span", { text: "Stop" }));
  const send = h("button", { type: "submit", class: "button primary send", testid: "send", "aria-label": "Send (Enter)", title: "Send (Enter)" }, icon("send"), h("span", { text: "Send" }));
  const resolutionWrap = h("label", { class: "resolution", for: "resolution" }, icon("image", "icon small"), resolution);

  const form = h("form", { class: "composer", testid: "composer", "aria-label": "Compose a message" },
    dropErrors,
    strips.el,
    h("div", { class: "composer-box" },
      images,
      input,
      h("div", { class: "composer-bar" }, attach, resolutionWrap, cost, h("span", { class: "spacer" }), stop, send)),
    h("div", { class: "composer-hint" }, "Enter to send · Shift+Enter for a new line · Esc stops · drop, paste or attach images and PDFs"),
  );

  function autosize(): void {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 260)}px`;
  }

  function canSend(s: AppState): { ok: boolean; why: string } {
    if (isGenerating(s)) return { ok: false, why: "An answer is being generated" };
    // A connection answers without this computer's model.
    if (!activeConnection(s.settings) && s.status?.state !== "ready") {
      return { ok: false, why: s.status?.state === "loading" ? "The model is loading" : "Load a model first" };
    }
    if (composer.importing()) return { ok: false, why: "Images are still being imported" };
    if (pdfs.busy()) return { ok: false, why: "PDF pages are still being rendered" };
    if (!input.value.trim() && composer.readyImages().length === 0) return { ok: false, why: "Type a message" };
    return { ok: true, why: "Send (Enter)" };
  }

  function syncButtons(): void {
    const s = store.get();
    const generating = isGenerating(s);
    stop.hidden = !generating;
    send.hidden = generating;
    const c = canSend(s);
    send.disabled = !c.ok;
    send.title = c.why;
    const remote = activeConnection(s.settings);
    const noModel = !remote && s.status !== null && s.status.model === null && s.status.state !== "loading";
    // The connection's server picks the resolution, and this computer's costs do not apply.
    resolutionWrap.hidden = remote !== null;
    cost.hidden = remote !== null || composer.attachments.length === 0;
    input.placeholder = noModel
      ? "Download, add or load a model to start…"
      : composer.attachments.length > 0
        ? "Ask about the image…"
        : "Ask anything, or drop an image here…";
  }

  let lastCostError: ApiError | null = null;
  function renderAttachments(): void {
    setChildren(images, ...composer.attachments.map((a) => thumb(a, composer)));
    images.hidden = composer.attachments.length === 0;
    lastCostError = composer.attachments.find((a) => a.costError)?.costError ?? null;
    cost.textContent = describeTotals(composer.totals(), lastCostError);
    cost.title = composer.attachments.flatMap((a) => (a.cost ? [`${a.name}: ${describeCost(a.cost)}`] : [])).join("\n");
    resolution.value = composer.preset;
    for (const opt of Array.from(resolution.options)) {
      const id = opt.value as ResolutionPreset;
      opt.textContent = presetLabel(id, composer.attachments.length > 0 ? composer.presetTokens[id] : null);
    }
    resolution.title = `Image resolution: ${presetInfo(composer.preset).hint}`;
    setChildren(dropErrors, ...composer.dropErrors.map((e) => {
      const dismiss = h("button", { type: "button", class: "icon-button small", "aria-label": "Dismiss", title: "Dismiss" }, icon("x"));
      dismiss.addEventListener("click", () => composer.dismissDropError(e.key));
      return h("div", { class: "drop-error", testid: "drop-error", role: "alert" }, icon("alert"), h("span", { text: e.message }), dismiss);
    }));
    syncButtons();
  }

  async function submit(): Promise<void> {
    const s = store.get();
    if (!canSend(s).ok) return;
    const text = input.value.trim();
    const taken = composer.attachments;
    const imgs = composer.readyImages();
    const edge = composer.longestEdge();
    input.value = "";
    autosize();
    composer.clear();
    const ok = await chat.send(text, imgs, edge);
    if (!ok) {
      if (!input.value) input.value = text;
      autosize();
      composer.restore(taken);
    }
    input.focus();
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void submit();
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      void submit();
    }
  });
  input.addEventListener("input", () => {
    autosize();
    syncButtons();
  });
  stop.addEventListener("click", () => void chat.stop());
  resolution.addEventListener("change", () => {
    void composer.setPreset(resolution.value as ResolutionPreset).then(() => pdfs.refreshCosts());
  });
  attach.addEventListener("click", () => {
    void (async () => {
      try {
        const plan = planDrop(await api.pickImages());
        await Promise.all([
          plan.images.length > 0 ? composer.addPaths(plan.images) : undefined,
          plan.pdfs.length > 0 ? pdfs.addPaths(plan.pdfs) : undefined,
        ]);
      } catch (e) {
        composer.addDropError(`Could not open the file picker: ${toApiError(e).message}`);
      }
    })();
  });

  composer.onChange(renderAttachments);
  pdfs.onChange(syncButtons);
  watch(store, (s) => [s.status?.state, s.live?.phase, s.live === null, s.settings] as const, syncButtons);
  renderAttachments();

  return {
    el: form,
    focus: () => input.focus(),
    submit,
    setText(text) {
      input.value = text;
      autosize();
      syncButtons();
      input.focus();
    },
  };
}
