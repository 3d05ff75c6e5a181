// The settings' "About" section: the app's version, what it computes with (CPU kernels, the
// device backends) and the folders it keeps things in, the log folder first among them since a
// bug report asks for it. Read from the backend each time the settings open.

import type { AboutInfo } from "./api";
import { backendLines } from "./devices";
import { copyText, flashButton, h, setChildren } from "./dom";
import { icon } from "./icons";

export interface AboutSection {
  el: HTMLElement;
  /** Shows what the backend answered; null while it is being read, a string when it failed. */
  show(info: AboutInfo | null | string): void;
}

/** The folders, labelled, in the order shown. */
export function aboutFolders(info: AboutInfo): { label: string; path: string; testid: string }[] {
  return [
    { label: "Log files", path: info.logDir, testid: "about-log-dir" },
    { label: "Conversations and settings", path: info.dataDir, testid: "about-data-dir" },
    { label: "Downloaded models (Hugging Face cache)", path: info.hfCacheDir, testid: "about-hf-cache" },
  ];
}

function folderRow(label: string, path: string, testid: string): HTMLElement {
  const copy = h("button", { type: "button", class: "msg-action", testid: `${testid}-copy`, "aria-label": `Copy the path of the ${label.toLowerCase()} folder`, title: "Copy the path" },
    icon("copy"), h("span", { class: "label", text: "Copy" }));
  copy.addEventListener("click", () => void copyText(path).then((ok) => ok && flashButton(copy)));
  return h("div", { class: "about-row" },
    h("dt", { text: label }),
    h("dd", { class: "about-path-row" }, h("code", { class: "about-path", testid, text: path }), copy));
}

export function createAboutSection(): AboutSection {
  const body = h("dl", { class: "about-list", testid: "about-body" });
  const el = h("fieldset", { class: "fieldset about", testid: "about" }, h("legend", { text: "About" }), body);
  return {
    el,
    show(info) {
      if (info === null) {
        setChildren(body, h("p", { class: "muted", text: "Reading…" }));
        return;
      }
      if (typeof info === "string") {
        setChildren(body, h("p", { class: "inline-error", testid: "about-error", text: `Could not read this: ${info}` }));
        return;
      }
      setChildren(body,
        h("div", { class: "about-row" }, h("dt", { text: "Version" }), h("dd", { testid: "about-version", text: `SmolVLM Desktop ${info.version}` })),
        h("div", { class: "about-row" }, h("dt", { text: "CPU kernels" }), h("dd", { testid: "about-kernels", text: info.cpuKernels })),
        h("div", { class: "about-row" }, h("dt", { text: "Devices" }),
          h("dd", null, h("ul", { class: "device-list", testid: "about-devices" }, ...backendLines(info.backends).map((text) => h("li", { text }))))),
        ...aboutFolders(info).map((f) => folderRow(f.label, f.path, f.testid)));
    },
  };
}
