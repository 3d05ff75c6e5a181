// URLs for stored images: the app's own `smolvlm-image` scheme, which serves the image store's
// files by name (src-tauri/src/image_protocol.rs); never file:// or model-supplied URLs.

import { convertFileSrc } from "@tauri-apps/api/core";
import { baseName } from "./format";

export const IMAGE_SCHEME = "smolvlm-image";

/** The URL of a stored image, from its path in the store (or its file name). */
export function imageSrc(file: string): string {
  return convertFileSrc(baseName(file), IMAGE_SCHEME);
}
