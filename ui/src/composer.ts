// The composer's logic, apart from its DOM: images attached to the next message (imported into
// the store, with their token cost for the loaded model), the resolution preset with each
// preset's cost, and drop errors. PDF pages arrive through `./pdf-pages` as stored images.

import { api, toApiError, type ApiError, type ImageCost, type StoredImage } from "./api";
import { baseName } from "./format";
import {
  longestEdgeFor,
  PRESETS,
  type ProcessorInfo,
  type ResolutionPreset,
} from "./resolution";

export type AttachmentStatus = "importing" | "ready" | "error";

export interface Attachment {
  key: string;
  name: string;
  status: AttachmentStatus;
  image: StoredImage | null;
  cost: ImageCost | null;
  costError: ApiError | null;
  error: ApiError | null;
}

export interface DropError {
  key: string;
  message: string;
}

export interface CostTotals {
  images: number;
  /** Tiles of the split grids, summed. */
  tiles: number;
  frames: number;
  tokens: number;
  /** Images whose cost is not known (yet, or because no model is loaded). */
  unknown: number;
}

/** Lets the store collect an image the composer no longer shows (each import holds its image
 * until it is sent or discarded). A failure only leaves the file until the next start. */
function discard(image: StoredImage): void {
  api.discardImage(image.file).catch(() => {});
}

let nextKey = 1;
const key = (p: string) => `${p}${nextKey++}`;

export class Composer {
  attachments: Attachment[] = [];
  dropErrors: DropError[] = [];
  preset: ResolutionPreset = "standard";
  proc: ProcessorInfo | null = null;
  maxImages = 8;
  /** Image tokens of every attachment at each preset; null where some cost is unknown. */
  presetTokens: Record<ResolutionPreset, number | null> = { fast: null, standard: null, document: null };
  private listeners = new Set<() => void>();
  private costRound = 0;
  private presetRound = 0;

  onChange(f: () => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private changed(): void {
    for (const f of Array.from(this.listeners)) f();
  }

  private update(k: string, patch: Partial<Attachment>): void {
    this.attachments = this.attachments.map((a) => (a.key === k ? { ...a, ...patch } : a));
    this.changed();
  }

  /** Room left for more images in this message. */
  room(): number {
    return Math.max(0, this.maxImages - this.attachments.length);
  }

  /** Imports image files (drops, the picker). Failures become drop errors, not exceptions. */
  async addPaths(paths: readonly string[]): Promise<void> {
    await Promise.all(
      this.takeRoom(paths.map((p) => baseName(p))).map(({ name, index }) =>
        this.importOne(name, () => api.importImage(paths[index] as string)),
      ),
    );
  }

  /** Imports pasted image data. */
  async addBytes(bytes: Uint8Array, name: string): Promise<void> {
    const [slot] = this.takeRoom([name]);
    if (slot) await this.importOne(name, () => api.importImageBytes(bytes, name));
  }

  /** Which of these names fit under the per-message limit; a drop error for the rest. */
  private takeRoom(names: string[]): { name: string; index: number }[] {
    const room = this.room();
    const fits = names.slice(0, room).map((name, index) => ({ name, index }));
    const over = names.slice(room);
    if (over.length > 0) {
      this.addDropError(
        `At most ${this.maxImages} images per message: ${over.join(", ")} not attached.`,
      );
    }
    return fits;
  }

  /** Adds an image already in the store (a rendered PDF page), priced like the others. False
   * when the message has no room left. */
  async attachStored(image: StoredImage): Promise<boolean> {
    if (this.room() === 0) return false;
    const k = key("img");
    this.attachments = [
      ...this.attachments,
      { key: k, name: image.originalName, status: "ready", image, cost: null, costError: null, error: null },
    ];
    this.changed();
    await this.refreshCost(k, this.costRound);
    void this.refreshPresetTokens();
    return true;
  }

  private async importOne(name: string, load: () => Promise<StoredImage>): Promise<void> {
    const k = key("img");
    this.attachments = [
      ...this.attachments,
      { key: k, name, status: "importing", image: null, cost: null, costError: null, error: null },
    ];
    this.changed();
    try {
      const image = await load();
      if (!this.attachments.some((a) => a.key === k)) {
        discard(image); // removed meanwhile
        return;
      }
      this.update(k, { status: "ready", image, name: image.originalName || name });
      await this.refreshCost(k, this.costRound);
      void this.refreshPresetTokens();
    } catch (e) {
      const err = toApiError(e);
      this.attachments = this.attachments.filter((a) => a.key !== k);
      this.addDropError(`${name}: ${err.message}`);
    }
  }

  remove(k: string): void {
    const image = this.attachments.find((a) => a.key === k)?.image;
    if (image) discard(image);
    this.attachments = this.attachments.filter((a) => a.key !== k);
    this.changed();
    void this.refreshPresetTokens();
  }

  /** Puts back attachments taken for a send that failed. */
  restore(attachments: Attachment[]): void {
    const keys = new Set(this.attachments.map((a) => a.key));
    this.attachments = [...attachments.filter((a) => !keys.has(a.key)), ...this.attachments];
    this.changed();
  }

  clear(): void {
    this.attachments = [];
    this.dropErrors = [];
    this.presetTokens = { fast: null, standard: null, document: null };
    this.changed();
  }

  addDropError(message: string): void {
    this.dropErrors = [...this.dropErrors, { key: key("err"), message }];
    this.changed();
  }

  dismissDropError(k: string): void {
    this.dropErrors = this.dropErrors.filter((e) => e.key !== k);
    this.changed();
  }

  clearDropErrors(): void {
    if (this.dropErrors.length === 0) return;
    this.dropErrors = [];
    this.changed();
  }

  /** The longest edge to send and to price images with; undefined = the model's default. */
  longestEdge(): number | undefined {
    return longestEdgeFor(this.preset, this.proc);
  }

  async setPreset(preset: ResolutionPreset): Promise<void> {
    if (preset === this.preset) return;
    this.preset = preset;
    this.changed();
    await this.refreshCosts();
  }

  /** The loaded model changed: its processor may differ, so price everything again. */
  async modelChanged(): Promise<void> {
    this.proc = null;
    await this.refreshCosts();
  }

  async refreshCosts(): Promise<void> {
    const round = ++this.costRound;
    await Promise.all(
      this.attachments.filter((a) => a.status === "ready").map((a) => this.refreshCost(a.key, round)),
    );
    await this.refreshPresetTokens();
  }

  /** Prices every attachment at each preset's edge, for the resolution menu. */
  async refreshPresetTokens(): Promise<void> {
    const round = ++this.presetRound;
    const proc = this.proc;
    const ready = this.attachments.filter((a) => a.status === "ready" && a.image);
    const next: Record<ResolutionPreset, number | null> = { fast: null, standard: null, document: null };
    if (proc && ready.length > 0) {
      await Promise.all(PRESETS.map(async (p) => {
        try {
          const costs = await Promise.all(ready.map((a) => api.imageCost((a.image as StoredImage).file, proc.presets[p.id])));
          next[p.id] = costs.reduce((sum, c) => sum + c.tokens, 0);
        } catch {
          next[p.id] = null;
        }
      }));
    }
    if (round !== this.presetRound) return;
    this.presetTokens = next;
    this.changed();
  }

  private async refreshCost(k: string, round: number): Promise<void> {
    const att = this.attachments.find((a) => a.key === k);
    if (!att?.image) return;
    try {
      let cost = await api.imageCost(att.image.file, this.longestEdge());
      if (this.proc === null) {
        this.proc = {
          tileSize: cost.tileSize,
          defaultLongestEdge: cost.defaultLongestEdge,
          maxLongestEdge: cost.maxLongestEdge,
          presets: cost.presets,
        };
        void this.refreshPresetTokens();
        const edge = this.longestEdge();
        // First price was for the default edge; ask again for the chosen preset.
        if (edge !== undefined) cost = await api.imageCost(att.image.file, edge);
      }
      if (round < this.costRound) return; // a newer round is pricing it
      this.update(k, { cost, costError: null });
    } catch (e) {
      if (round < this.costRound) return;
      this.update(k, { cost: null, costError: toApiError(e) });
    }
  }

  totals(): CostTotals {
    const t: CostTotals = { images: 0, tiles: 0, frames: 0, tokens: 0, unknown: 0 };
    for (const a of this.attachments) {
      t.images += 1;
      if (a.cost) {
        t.tiles += a.cost.rows * a.cost.cols;
        t.frames += a.cost.frames;
        t.tokens += a.cost.tokens;
      } else {
        t.unknown += 1;
      }
    }
    return t;
  }

  /** Images still being imported: sending waits for them. */
  importing(): boolean {
    return this.attachments.some((a) => a.status === "importing");
  }

  /** The stored images to send with the message. */
  readyImages(): StoredImage[] {
    return this.attachments.flatMap((a) => (a.status === "ready" && a.image ? [a.image] : []));
  }
}

/** "4×3 tiles + global · 1,105 tokens" for one image. */
export function describeCost(c: ImageCost): string {
  const grid = c.rows * c.cols > 0 ? `${c.cols}×${c.rows} tiles + global` : "1 frame";
  return `${grid} · ${c.tokens.toLocaleString("en-US")} tokens`;
}

/** The composer's summary: "2 images · 17 tiles · 1,105 tokens". */
export function describeTotals(t: CostTotals, costError: ApiError | null): string {
  if (t.images === 0) return "";
  const imgs = t.images === 1 ? "1 image" : `${t.images} images`;
  if (t.unknown === t.images) {
    if (costError?.code === "no_model") return `${imgs} · load a model to see the token cost`;
    if (costError) return `${imgs} · cost unknown`;
    return `${imgs} · pricing…`;
  }
  const tiles = t.tiles === 1 ? "1 tile" : `${t.tiles} tiles`;
  const approx = t.unknown > 0 ? "≥ " : "";
  return `${imgs} · ${tiles} · ${approx}${t.tokens.toLocaleString("en-US")} tokens`;
}
