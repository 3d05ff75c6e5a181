// Light and dark follow the OS (`prefers-color-scheme`) unless settings pick one.

import type { Theme } from "./api";

export function applyTheme(theme: Theme): void {
  const root = document.documentElement;
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
}
