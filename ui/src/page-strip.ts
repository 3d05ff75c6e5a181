// The page strip of each PDF being added: thumbnails (rendered lazily as they scroll into view),
// each page's token cost, the choice of pages with its total against the model's budget, and
// rendering progress with Cancel.

import { describeCost } from "./composer";
import { h, setChildren } from "./dom";
import { icon } from "./icons";
import { chosenTokens, type PdfPages, type PendingPdf } from "./pdf-pages";

const fmt = (n: number) => n.toLocaleString("en-US");

export interface PageStripView {
  el: HTMLElement;
}

export function createPageStripView(pdfs: PdfPages, room: () => number): PageStripView {
  const el = h("div", { class: "pdf-strips", "aria-label": "PDF pages to attach" });
  /** Thumbnails already rendered, by PDF id and page, so a re-render shows them at once. */
  const shown = new Map<string, string>();
  const scroll = new Map<string, number>();
  let observer: IntersectionObserver | null = null;

  function pageTile(p: PendingPdf, number: number): HTMLElement {
    const id = p.info?.id ?? "";
    const cost = p.costs?.pages[number - 1] ?? null;
    const selected = p.selected.includes(number);
    const img = h("img", { alt: `Page ${number}`, decoding: "async" });
    const src = shown.get(`${id}#${number}`);
    if (src) img.src = src;
    const tile = h("button", {
      type: "button",
      class: `pdf-page${selected ? " selected" : ""}`,
      testid: "pdf-page",
      "data-page": number,
      "data-selected": selected ? "true" : "false",
      "aria-pressed": selected ? "true" : "false",
      "aria-label": `Page ${number}${cost ? `, ${fmt(cost.tokens)} tokens` : ""}`,
      title: cost ? `Page ${number}: ${describeCost(cost)}` : `Page ${number}`,
      disabled: p.status !== "choosing",
    },
      h("span", { class: "pdf-page-thumb" }, img, h("span", { class: "pdf-page-check", "aria-hidden": "true" }, icon("check"))),
      h("span", { class: "pdf-page-label" },
        h("span", { text: `${number}` }),
        cost ? h("span", { class: "muted", text: `${fmt(cost.tokens)} tok` }) : null));
    tile.addEventListener("click", () => pdfs.toggle(p.key, number));
    if (!src && id) {
      tile.dataset.thumb = "pending";
      observer?.observe(tile);
      (tile as HTMLElement & { loadThumb?: () => void }).loadThumb = () => {
        void pdfs.thumbnail(p.key, number).then((url) => {
          shown.set(`${id}#${number}`, url);
          img.src = url;
        }, () => undefined);
      };
    }
    return tile;
  }

  function summary(p: PendingPdf): HTMLElement {
    const n = p.selected.length;
    const tokens = chosenTokens(p);
    const budget = p.costs?.budgetTokens ?? null;
    const parts = [n === 1 ? "1 page" : `${n} pages`];
    if (tokens !== null) parts.push(`${fmt(tokens)} tokens`);
    let warn: string | null = null;
    if (n > room()) warn = `only ${room()} more image(s) fit in this message`;
    else if (tokens !== null && budget !== null && tokens > budget) warn = `over the ${fmt(budget)}-token budget for images; the answer may not fit`;
    else if (p.costError?.code === "no_model_loaded") warn = "load a model to see the token cost";
    return h("span", { class: `pdf-summary${warn ? " warn" : ""}`, testid: "pdf-summary" },
      parts.join(" · "), warn ? h("span", { text: ` — ${warn}` }) : null);
  }

  function card(p: PendingPdf): HTMLElement {
    const pages = p.info?.pages.length ?? 0;
    const title = h("div", { class: "pdf-title" }, icon("file"),
      h("strong", { text: p.name }),
      h("span", { class: "muted", text: p.status === "opening" ? "opening…" : `${pages} page${pages === 1 ? "" : "s"} · document resolution` }));
    const cancel = h("button", { type: "button", class: "button small", testid: "pdf-cancel", text: p.status === "rendering" ? "Stop" : "Cancel" });
    cancel.addEventListener("click", () => pdfs.cancel(p.key));
    let footer: HTMLElement;
    if (p.status === "rendering") {
      const total = p.selected.length;
      const fill = h("span", { class: "pdf-bar-fill" });
      fill.style.width = `${total > 0 ? (100 * p.done) / total : 0}%`;
      footer = h("div", { class: "pdf-footer" },
        h("span", { class: "spinner" }),
        h("span", { class: "pdf-progress", testid: "pdf-progress", role: "status", text: `Rendering page ${Math.min(p.done + 1, total)} of ${total}…` }),
        h("span", { class: "pdf-bar", role: "progressbar", "aria-label": "Pages rendered", "aria-valuemin": 0, "aria-valuemax": total, "aria-valuenow": p.done }, fill),
        h("span", { class: "spacer" }), cancel);
    } else {
      const add = h("button", {
        type: "button", class: "button primary small", testid: "pdf-add",
        disabled: p.status !== "choosing" || p.selected.length === 0 || p.selected.length > room(),
        text: p.selected.length === 1 ? "Add 1 page" : `Add ${p.selected.length} pages`,
      });
      add.addEventListener("click", () => void pdfs.attach(p.key));
      const allOn = pages > 0 && p.selected.length === pages;
      const all = h("button", { type: "button", class: "button small ghost", testid: "pdf-all", text: allOn ? "None" : "All", disabled: p.status !== "choosing" });
      all.addEventListener("click", () => pdfs.selectAll(p.key, !allOn));
      footer = h("div", { class: "pdf-footer" }, summary(p), h("span", { class: "spacer" }), all, cancel, add);
    }
    const strip = h("div", { class: "pdf-pages", role: "group", "aria-label": `Pages of ${p.name}` },
      ...(p.info?.pages.map((pg) => pageTile(p, pg.number)) ?? []));
    strip.addEventListener("scroll", () => scroll.set(p.key, strip.scrollLeft), { passive: true });
    const c = h("section", { class: "pdf-card", testid: "pdf-card", "data-status": p.status, "aria-label": p.name }, title, strip, footer);
    requestAnimationFrame(() => (strip.scrollLeft = scroll.get(p.key) ?? 0));
    return c;
  }

  function render(): void {
    observer?.disconnect();
    observer = typeof IntersectionObserver === "undefined"
      ? null
      : new IntersectionObserver((entries) => {
          for (const e of entries) {
            if (!e.isIntersecting) continue;
            const t = e.target as HTMLElement & { loadThumb?: () => void };
            observer?.unobserve(t);
            t.loadThumb?.();
          }
        }, { root: null, rootMargin: "200px" });
    for (const k of Array.from(scroll.keys())) if (!pdfs.pending.some((p) => p.key === k)) scroll.delete(k);
    setChildren(el, ...pdfs.pending.map(card));
    el.hidden = pdfs.pending.length === 0;
    if (!observer) {
      for (const t of Array.from(el.querySelectorAll<HTMLElement & { loadThumb?: () => void }>("[data-thumb=pending]"))) t.loadThumb?.();
    }
  }

  pdfs.onChange(render);
  render();
  return { el };
}
