// What a dropped or picked path is, by its name: an image, a PDF, a model (a .gguf file or a
// folder), or something the app does not take. Pure.

import { baseName } from "./format";

export const IMAGE_EXTENSIONS = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"] as const;

export const PDF_EXTENSION = "pdf";

export type DropKind = "image" | "pdf" | "model" | "other";

/** The file extension, lower case; "" when the name has none. A dotted suffix that does not look
 * like an extension ("SmolVLM2-2.2B-Instruct", "model-v0.1") counts as none: such names are folders. */
export function extension(path: string): string {
  const name = baseName(path);
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return "";
  const ext = name.slice(dot + 1).toLowerCase();
  return /^[a-z][a-z0-9]{0,4}$/.test(ext) ? ext : "";
}

/** Images and PDFs by extension; `.gguf` files and extension-less paths (folders) as models. */
export function classifyPath(path: string): DropKind {
  const ext = extension(path);
  if ((IMAGE_EXTENSIONS as readonly string[]).includes(ext)) return "image";
  if (ext === PDF_EXTENSION) return "pdf";
  if (ext === "gguf" || ext === "") return "model";
  return "other";
}

export interface DropPlan {
  images: string[];
  pdfs: string[];
  models: string[];
  rejected: string[];
}

/** Splits a drop into images to attach, PDFs to choose pages of, model paths to add, and files
 * to refuse. */
export function planDrop(paths: readonly string[]): DropPlan {
  const plan: DropPlan = { images: [], pdfs: [], models: [], rejected: [] };
  for (const p of paths) {
    const kind = classifyPath(p);
    if (kind === "image") plan.images.push(p);
    else if (kind === "pdf") plan.pdfs.push(p);
    else if (kind === "model") plan.models.push(p);
    else plan.rejected.push(p);
  }
  return plan;
}

/** A file name for pasted image data of this MIME type. */
export function pastedName(mime: string, nowMs: number): string {
  const ext = /^image\/(png|jpeg|webp|gif|bmp|tiff)$/.exec(mime)?.[1] ?? "png";
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, "-").slice(0, 19);
  return `pasted-${stamp}.${ext === "jpeg" ? "jpg" : ext}`;
}
