// The image resolution control: the presets' names and hints. Their pixels come from the
// backend (`ImageCost.presets`, from the model's own tile: smolvlm-image's `Resolution`), never
// computed here. Pure.

import type { PresetEdges, Resolution } from "./api";

export type ResolutionPreset = Resolution;

export interface ProcessorInfo {
  tileSize: number;
  defaultLongestEdge: number;
  maxLongestEdge: number;
  presets: PresetEdges;
}

export interface PresetInfo {
  id: ResolutionPreset;
  label: string;
  hint: string;
}

export const PRESETS: readonly PresetInfo[] = [
  { id: "fast", label: "Fast", hint: "Half the model's tiles: about a quarter of the tokens, for photos and scenes" },
  { id: "standard", label: "Standard", hint: "The model's own resolution" },
  { id: "document", label: "Document", hint: "Five tiles: small print, receipts, pages (PDF pages use it)" },
];

export function presetInfo(id: ResolutionPreset): PresetInfo {
  return PRESETS.find((p) => p.id === id) ?? (PRESETS[1] as PresetInfo);
}

/** The longest edge (pixels) to send for a preset; undefined until the model's is known. */
export function longestEdgeFor(id: ResolutionPreset, proc: ProcessorInfo | null): number | undefined {
  return proc?.presets[id];
}

/** "Document · 1,234 tokens" for the resolution menu; the label alone when the cost is unknown. */
export function presetLabel(id: ResolutionPreset, tokens: number | null): string {
  const label = presetInfo(id).label;
  return tokens === null ? label : `${label} · ${tokens.toLocaleString("en-US")} tokens`;
}
