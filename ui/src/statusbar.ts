// The status bar: the model's state and device (from `model-status` events), who answers the
// chat, and the last error.

import type { ModelStatus } from "./api";
import { activeConnection, answeringWith } from "./connections";
import { h, setChildren } from "./dom";
import { deviceLabel, formatSeconds } from "./format";
import { watch, type AppState, type Store } from "./state";

/** The status line's parts; the state word itself is always in the text. */
export function describeStatus(s: ModelStatus | null): { state: string; detail: string } {
  if (!s) return { state: "starting", detail: "connecting to the backend…" };
  const m = s.model;
  switch (s.state) {
    case "empty":
      return { state: "empty", detail: "no model loaded" };
    case "loading":
      return { state: "loading", detail: `${s.loading ?? "model"}…` };
    case "ready":
      return { state: "ready", detail: m ? `${m.name} · ${deviceLabel(m)}${m.hasVision ? "" : " · text only"}` : "" };
    case "generating":
      return { state: "generating", detail: m ? `${m.name} · ${deviceLabel(m)}` : "" };
  }
}

export function createStatusBar(store: Store<AppState>, openModels: () => void, openSettings?: () => void): HTMLElement {
  const status = h("button", { type: "button", class: "model-status", testid: "model-status", "aria-live": "polite", title: "Models" });
  status.addEventListener("click", openModels);
  const backend = h("button", { type: "button", class: "answering-with", testid: "answering-with", title: "Choose who answers (Settings)" });
  if (openSettings) backend.addEventListener("click", openSettings);
  const right = h("div", { class: "status-right" });
  const root = h("footer", { class: "statusbar", "aria-label": "Status" }, status, backend, right);

  function render(s: AppState): void {
    const d = describeStatus(s.status);
    status.dataset.state = d.state;
    setChildren(status,
      h("span", { class: "status-dot", "aria-hidden": "true" }),
      h("span", { class: "status-state", text: d.state }),
      d.detail ? h("span", { class: "status-detail", text: d.detail }) : null);
    const remote = activeConnection(s.settings) !== null;
    backend.dataset.remote = String(remote);
    setChildren(backend,
      h("span", { class: "answering-label", text: "Answering with:" }),
      h("span", { class: "answering-name", text: answeringWith(s.settings) }));
    const m = s.status?.model;
    setChildren(right,
      s.status?.lastError ? h("span", { class: "status-error", title: s.status.lastError.code, text: s.status.lastError.message }) : null,
      // A GPU build that fell back to the CPU says why (no driver, no device).
      m?.deviceNotice ? h("span", { class: "status-notice", testid: "device-notice", title: m.deviceNotice, text: "GPU unavailable: on the CPU" }) : null,
      m && s.status?.state !== "loading" ? h("span", { class: "status-meta", text: `loaded in ${formatSeconds(m.loadS)}` }) : null,
      s.info ? h("span", { class: "status-meta", text: `v${s.info.version}` }) : null);
  }

  watch(store, (s) => [s.status, s.info, s.settings] as const, render);
  render(store.get());
  return root;
}
