// Native file drops (Tauri's drag-drop events carry paths) and clipboard pastes (image or PDF
// data). Images go to the composer, PDFs to a page strip, a .gguf file or a model folder becomes
// a local model, anything else gets an inline drop error.

import { getCurrentWebview } from "@tauri-apps/api/webview";
import { toApiError, type LocalModel } from "./api";
import type { Composer } from "./composer";
import { h, setChildren } from "./dom";
import { planDrop, pastedName, PDF_EXTENSION } from "./files";
import { baseName } from "./format";
import { icon } from "./icons";
import type { PdfPages } from "./pdf-pages";
import { toast } from "./toast";

export interface DropDeps {
  composer: Composer;
  pdfs: PdfPages;
  addModel: (path: string) => Promise<LocalModel>;
}

/** Handles one drop of paths. */
export async function handleDrop(paths: readonly string[], deps: DropDeps): Promise<void> {
  const { composer } = deps;
  composer.clearDropErrors();
  const plan = planDrop(paths);
  for (const r of plan.rejected) {
    composer.addDropError(`${baseName(r)} is not an image (PNG, JPEG, WebP, GIF, BMP, TIFF), a PDF or a model, so it was not attached.`);
  }
  const jobs: Promise<void>[] = [];
  if (plan.images.length > 0) jobs.push(composer.addPaths(plan.images));
  if (plan.pdfs.length > 0) jobs.push(deps.pdfs.addPaths(plan.pdfs));
  for (const m of plan.models) {
    jobs.push(
      deps.addModel(m).then(
        (lm) => toast(`Added ${lm.name}; loading it`),
        (e: unknown) => composer.addDropError(`${baseName(m)}: ${toApiError(e).message}`),
      ),
    );
  }
  await Promise.all(jobs);
}

const PDF_MIME = "application/pdf";
const isPdf = (type: string) => type === PDF_MIME;
const isAttachable = (type: string) => type.startsWith("image/") || isPdf(type);

/** The image and PDF files in a paste, if any. */
export function clipboardFiles(data: DataTransfer | null): File[] {
  if (!data) return [];
  const files: File[] = [];
  for (const item of Array.from(data.items ?? [])) {
    if (item.kind === "file" && isAttachable(item.type)) {
      const f = item.getAsFile();
      if (f) files.push(f);
    }
  }
  if (files.length === 0) {
    for (const f of Array.from(data.files ?? [])) if (isAttachable(f.type)) files.push(f);
  }
  return files;
}

/** Pasted images go through import_image_bytes, pasted PDFs to a page strip. Text pastes are
 * left alone. */
export function setupPaste(composer: Composer, pdfs: PdfPages): void {
  document.addEventListener("paste", (ev) => {
    const files = clipboardFiles(ev.clipboardData);
    if (files.length === 0) return;
    ev.preventDefault();
    void (async () => {
      for (const f of files) {
        const bytes = new Uint8Array(await f.arrayBuffer());
        if (isPdf(f.type)) {
          await pdfs.addBytes(bytes, f.name || `pasted.${PDF_EXTENSION}`);
          continue;
        }
        const generic = !f.name || /^image\.\w+$/.test(f.name);
        await composer.addBytes(bytes, generic ? pastedName(f.type, Date.now()) : f.name);
      }
    })();
  });
}

export function createDropOverlay(): { el: HTMLElement; show(paths: readonly string[] | null): void; hide(): void } {
  const text = h("div", { class: "drop-text" });
  const el = h("div", { class: "drop-overlay", testid: "drop-overlay", hidden: true, "aria-hidden": "true" },
    h("div", { class: "drop-card" }, icon("image", "icon drop-icon"), text));
  let lastPaths: readonly string[] = [];
  return {
    el,
    show(paths) {
      if (!paths && !el.hidden) return;
      if (paths) lastPaths = paths;
      const plan = planDrop(lastPaths);
      const lines: string[] = [];
      if (plan.images.length > 0) lines.push(plan.images.length === 1 ? "Drop to attach the image" : `Drop to attach ${plan.images.length} images`);
      if (plan.pdfs.length > 0) lines.push(plan.pdfs.length === 1 ? "Drop to choose pages of the PDF" : `Drop to choose pages of ${plan.pdfs.length} PDFs`);
      if (plan.models.length > 0) lines.push(plan.models.length === 1 ? "Drop to add the model" : `Drop to add ${plan.models.length} models`);
      if (plan.rejected.length > 0 && lines.length === 0) lines.push("Only images, PDFs and models can be dropped here");
      if (lines.length === 0) lines.push("Drop images to attach them");
      setChildren(text, h("strong", { text: lines[0] ?? "" }), ...lines.slice(1).map((l) => h("span", { text: l })),
        h("span", { class: "muted", text: "PNG · JPEG · WebP · GIF · BMP · TIFF · PDF · .gguf · model folders" }));
      el.hidden = false;
    },
    hide() {
      el.hidden = true;
    },
  };
}

export async function setupDragDrop(deps: DropDeps, overlay: ReturnType<typeof createDropOverlay>): Promise<() => void> {
  return getCurrentWebview().onDragDropEvent((ev) => {
    const p = ev.payload;
    switch (p.type) {
      case "enter":
        overlay.show(p.paths);
        break;
      case "over":
        overlay.show(null);
        break;
      case "leave":
        overlay.hide();
        break;
      case "drop":
        overlay.hide();
        void handleDrop(p.paths, deps);
        break;
    }
  });
}
