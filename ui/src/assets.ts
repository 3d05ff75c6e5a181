// URLs for stored images: the asset protocol (`convertFileSrc`), never file:// or model-supplied URLs.

import { convertFileSrc } from "@tauri-apps/api/core";

export function imageSrc(file: string): string {
  return convertFileSrc(file);
}
