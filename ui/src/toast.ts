// Short notices in the corner (copied, saved, failures of background actions).

import { h } from "./dom";
import { icon } from "./icons";

let region: HTMLElement | null = null;

function getRegion(): HTMLElement {
  if (region && region.isConnected) return region;
  region = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
  document.body.append(region);
  return region;
}

export function toast(message: string, kind: "info" | "error" = "info", ms = 3500): void {
  const close = h("button", { class: "icon-button small", type: "button", "aria-label": "Dismiss" }, icon("x"));
  const t = h("div", { class: `toast toast-${kind}`, testid: kind === "error" ? "toast-error" : "toast" },
    h("span", { class: "toast-text", text: message }), close);
  const remove = () => t.remove();
  close.addEventListener("click", remove);
  getRegion().append(t);
  window.setTimeout(remove, kind === "error" ? ms * 2 : ms);
}
