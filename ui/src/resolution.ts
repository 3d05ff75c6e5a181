// The image resolution control: presets as a number of tiles along the longest edge, and the
// longest edge in pixels they give for a model's processor. Pure.

export type ResolutionPreset = "low" | "standard" | "document";

export interface ProcessorInfo {
  tileSize: number;
  defaultLongestEdge: number;
  maxLongestEdge: number;
}

export interface PresetInfo {
  id: ResolutionPreset;
  label: string;
  /** Tiles along the longest edge; null = the model's default. */
  tiles: number | null;
  hint: string;
}

export const PRESETS: readonly PresetInfo[] = [
  { id: "low", label: "Low", tiles: 1, hint: "One tile: fastest, for photos and simple scenes" },
  { id: "standard", label: "Standard", tiles: null, hint: "The model's default resolution" },
  { id: "document", label: "Document", tiles: 5, hint: "Five tiles: small text, receipts, pages" },
];

export function presetInfo(id: ResolutionPreset): PresetInfo {
  return PRESETS.find((p) => p.id === id) ?? (PRESETS[1] as PresetInfo);
}

/** The longest edge (pixels) to send for a preset, or undefined for the model's default. */
export function longestEdgeFor(id: ResolutionPreset, proc: ProcessorInfo | null): number | undefined {
  const tiles = presetInfo(id).tiles;
  if (tiles === null || proc === null || proc.tileSize <= 0) return undefined;
  const edge = tiles * proc.tileSize;
  return Math.max(proc.tileSize, Math.min(edge, proc.maxLongestEdge || edge));
}

/** The preset a saved `longestEdgeTiles` setting stands for. */
export function presetFromTiles(tiles: number | null | undefined): ResolutionPreset {
  if (tiles === null || tiles === undefined) return "standard";
  if (tiles <= 1) return "low";
  if (tiles >= 5) return "document";
  return "standard";
}

export function tilesForPreset(id: ResolutionPreset): number | null {
  return presetInfo(id).tiles;
}
