// PDFs added to the composer, apart from their DOM: each opened PDF waits in a page strip while
// the user picks pages (each page's token cost shown, the total against the model's budget);
// the chosen pages are then rendered one by one, with progress and a way to cancel, into the
// image store and attached to the message in page order. PDF pages switch the composer to the
// Document preset (the resolution SmolVLM's card gives documents).

import { api, toApiError, type ApiError, type PdfCosts, type PdfInfo } from "./api";
import type { Composer } from "./composer";
import { baseName } from "./format";

export type PdfStatus = "opening" | "choosing" | "rendering";

export interface PendingPdf {
  key: string;
  name: string;
  status: PdfStatus;
  info: PdfInfo | null;
  /** Chosen page numbers (from 1), ascending. */
  selected: number[];
  costs: PdfCosts | null;
  costError: ApiError | null;
  /** Pages rendered so far, of `selected.length`, while rendering. */
  done: number;
}

/** The default choice: every page when they all fit (in the message's room and the token
 * budget), else the first page. */
export function defaultPages(pageCount: number, costs: PdfCosts | null, room: number): number[] {
  const all = Array.from({ length: pageCount }, (_, i) => i + 1);
  if (pageCount <= 1) return all;
  if (costs === null || pageCount > room) return [1];
  const tokens = costs.pages.reduce((sum, c) => sum + c.tokens, 0);
  return tokens <= costs.budgetTokens ? all : [1];
}

/** Tokens of the chosen pages; null when their costs are unknown. */
export function chosenTokens(p: PendingPdf): number | null {
  if (!p.costs) return null;
  return p.selected.reduce((sum, n) => sum + (p.costs?.pages[n - 1]?.tokens ?? 0), 0);
}

let nextKey = 1;

export class PdfPages {
  pending: PendingPdf[] = [];
  private listeners = new Set<() => void>();
  private thumbs = new Map<string, Promise<string>>();
  private thumbQueue: Promise<unknown> = Promise.resolve();
  private cancelled = new Set<string>();

  constructor(private composer: Composer) {}

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private changed(): void {
    for (const f of Array.from(this.listeners)) f();
  }

  private update(key: string, patch: Partial<PendingPdf>): void {
    this.pending = this.pending.map((p) => (p.key === key ? { ...p, ...patch } : p));
    this.changed();
  }

  private get(key: string): PendingPdf | undefined {
    return this.pending.find((p) => p.key === key);
  }

  /** Opens dropped or picked PDFs, one page strip each. Failures become drop errors. */
  async addPaths(paths: readonly string[]): Promise<void> {
    await Promise.all(paths.map((p) => this.open(baseName(p), () => api.openPdf(p))));
  }

  /** Opens pasted PDF data. */
  async addBytes(bytes: Uint8Array, name: string): Promise<void> {
    await this.open(name, () => api.openPdfBytes(bytes, name));
  }

  private async open(name: string, load: () => Promise<PdfInfo>): Promise<void> {
    const key = `pdf${nextKey++}`;
    this.pending = [
      ...this.pending,
      { key, name, status: "opening", info: null, selected: [], costs: null, costError: null, done: 0 },
    ];
    this.changed();
    try {
      const info = await load();
      if (!this.get(key)) {
        void api.closePdf(info.id);
        return;
      }
      this.update(key, { status: "choosing", info, name: info.name || name, selected: [1] });
      await this.composer.setPreset("document");
      await this.price(key, true);
    } catch (e) {
      this.pending = this.pending.filter((p) => p.key !== key);
      this.changed();
      this.composer.addDropError(`${name}: ${toApiError(e).message}`);
    }
  }

  /** Prices every page at the composer's preset (default: the document edge); `choose` sets the
   * default selection from the costs. */
  async price(key: string, choose = false): Promise<void> {
    const p = this.get(key);
    if (!p?.info) return;
    try {
      const costs = await api.pdfPageCosts(p.info.id, this.composer.longestEdge());
      const now = this.get(key);
      if (!now) return;
      const selected = choose ? defaultPages(p.info.pages.length, costs, this.composer.room()) : now.selected;
      this.update(key, { costs, costError: null, selected });
    } catch (e) {
      this.update(key, { costs: null, costError: toApiError(e) });
    }
  }

  /** The preset or the model changed: price every strip again. */
  async refreshCosts(): Promise<void> {
    await Promise.all(this.pending.filter((p) => p.status === "choosing").map((p) => this.price(p.key)));
  }

  toggle(key: string, page: number): void {
    const p = this.get(key);
    if (!p || p.status !== "choosing") return;
    const selected = p.selected.includes(page)
      ? p.selected.filter((n) => n !== page)
      : [...p.selected, page].sort((a, b) => a - b);
    this.update(key, { selected });
  }

  selectAll(key: string, all: boolean): void {
    const p = this.get(key);
    if (!p?.info || p.status !== "choosing") return;
    this.update(key, { selected: all ? p.info.pages.map((pg) => pg.number) : [] });
  }

  /** A page's thumbnail (a PNG data URL), rendered once, one at a time. */
  thumbnail(key: string, page: number): Promise<string> {
    const id = this.get(key)?.info?.id;
    if (!id) return Promise.reject(new Error("closed"));
    const k = `${id}#${page}`;
    let t = this.thumbs.get(k);
    if (!t) {
      t = this.thumbQueue.then(() => api.pdfThumbnail(id, page));
      this.thumbQueue = t.catch(() => undefined);
      this.thumbs.set(k, t);
    }
    return t;
  }

  /** Renders the chosen pages in order into the message; stops early on cancel or an error. */
  async attach(key: string): Promise<void> {
    const p = this.get(key);
    if (!p?.info || p.status !== "choosing" || p.selected.length === 0) return;
    const { id } = p.info;
    const pages = p.selected;
    if (pages.length > this.composer.room()) {
      this.composer.addDropError(
        `At most ${this.composer.maxImages} images per message: choose ${this.composer.room()} page(s) or fewer.`,
      );
      return;
    }
    this.cancelled.delete(key);
    this.update(key, { status: "rendering", done: 0 });
    // The edge the pages were priced at, so the pages cost what the strip said.
    const edge = p.costs?.longestEdge ?? this.composer.longestEdge();
    for (const [i, page] of pages.entries()) {
      if (this.cancelled.has(key)) break;
      try {
        const image = await api.importPdfPage(id, page, edge);
        if (this.cancelled.has(key)) break;
        await this.composer.attachStored(image);
        this.update(key, { done: i + 1 });
      } catch (e) {
        const err = toApiError(e);
        if (err.code !== "cancelled") this.composer.addDropError(`${p.name}, page ${page}: ${err.message}`);
        break;
      }
    }
    this.close(key);
  }

  /** Stops a render in progress (pages already added stay), or drops a strip. */
  cancel(key: string): void {
    const p = this.get(key);
    if (!p) return;
    if (p.status === "rendering" && p.info) {
      this.cancelled.add(key);
      void api.cancelPdfRender(p.info.id).catch(() => undefined);
      return;
    }
    this.close(key);
  }

  private close(key: string): void {
    const p = this.get(key);
    if (p?.info) {
      const id = p.info.id;
      void api.closePdf(id).catch(() => undefined);
      for (const k of Array.from(this.thumbs.keys())) if (k.startsWith(`${id}#`)) this.thumbs.delete(k);
    }
    this.cancelled.delete(key);
    this.pending = this.pending.filter((x) => x.key !== key);
    this.changed();
  }

  /** PDFs still opening or rendering: sending waits for them. */
  busy(): boolean {
    return this.pending.some((p) => p.status !== "choosing");
  }
}
