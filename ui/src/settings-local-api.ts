// The settings' "Local API" section: serve the app's OpenAI-compatible API (on/off, address,
// port, key), with the status line the backend reports after a save and how to call it.

import type { LocalApiSettings, LocalApiStatus, Settings } from "./api";
import { copyText, flashButton, h } from "./dom";
import { nextFieldId, row } from "./form-row";
import { icon } from "./icons";
import { curlHint, exposureWarning, portProblem, settingsUrl, statusLine } from "./local-api";

export interface LocalApiSection {
  el: HTMLElement;
  read(s: Settings): void;
  /** Writes the form into `s`; a problem (for people) when it cannot. */
  write(s: Settings): string | null;
  /** Shows the backend's status (null: being read). */
  showStatus(status: LocalApiStatus | null): void;
  /** The status line, to bring into view. */
  statusEl: HTMLElement;
}

export function sameLocalApi(a: LocalApiSettings, b: LocalApiSettings): boolean {
  return a.enabled === b.enabled && a.host === b.host && a.port === b.port && (a.apiKey ?? "") === (b.apiKey ?? "");
}

export function createLocalApiSection(): LocalApiSection {
  const enabledId = nextFieldId();
  const enabled = h("input", { type: "checkbox", id: enabledId, testid: "setting-localApi-enabled" });
  const host = h("input", { type: "text", class: "input", testid: "setting-localApi-host", spellcheck: "false", autocomplete: "off", placeholder: "127.0.0.1" });
  const port = h("input", { type: "number", class: "input", testid: "setting-localApi-port", min: 1, max: 65535, step: 1, inputmode: "numeric" });
  const key = h("input", { type: "password", class: "input", testid: "setting-localApi-apiKey", autocomplete: "new-password", placeholder: "none" });

  const statusText = h("span", { class: "api-status-text", testid: "local-api-status" });
  const copy = h("button", { type: "button", class: "msg-action", testid: "local-api-copy", "aria-label": "Copy the address", title: "Copy the address" },
    icon("copy"), h("span", { class: "label", text: "Copy" }));
  const status = h("div", { class: "api-status", role: "status" }, h("span", { class: "status-dot", "aria-hidden": "true" }), statusText, copy);
  const warning = h("p", { class: "field-hint api-warning", hidden: true });
  const curl = h("code", { class: "api-curl", testid: "local-api-hint" });
  let url: string | null = null;

  copy.addEventListener("click", () => {
    if (url) void copyText(url).then((ok) => ok && flashButton(copy));
  });

  let lastStatus: LocalApiStatus | null = null;
  const current = (): LocalApiSettings => ({
    enabled: enabled.checked,
    host: host.value.trim(),
    port: Number(port.value),
    apiKey: key.value ? key.value : null,
  });
  const renderHints = () => {
    const api = current();
    const target = lastStatus?.running && lastStatus.url ? lastStatus.url : settingsUrl(api);
    curl.textContent = curlHint(target, !!api.apiKey);
    const warn = exposureWarning(api);
    warning.textContent = warn ?? "";
    warning.hidden = warn === null;
  };
  for (const input of [enabled, host, port, key]) input.addEventListener("input", renderHints);
  enabled.addEventListener("change", renderHints);

  const el = h("fieldset", { class: "fieldset", testid: "local-api-section" },
    h("legend", { text: "Local API" }),
    h("p", { class: "field-hint wide", text: "An OpenAI-compatible server for other programs (scripts, the openai clients, LangChain), answering with the model loaded here." }),
    h("div", { class: "field wide" },
      h("label", { class: "check", for: enabledId }, enabled, h("span", { text: "Serve the local API" }))),
    row("Address", host, "127.0.0.1 keeps it on this computer; 0.0.0.0 opens it to the network."),
    row("Port", port, "1–65535; saving restarts the server."),
    h("div", { class: "wide" }, row("API key (optional)", key, "Clients must then send it as “Authorization: Bearer …”.")),
    h("div", { class: "field wide" }, status, warning,
      h("p", { class: "field-hint", text: "Call it, e.g.:" }), curl));

  return {
    el,
    statusEl: status,
    read(s) {
      enabled.checked = s.localApi.enabled;
      host.value = s.localApi.host;
      port.value = String(s.localApi.port);
      key.value = s.localApi.apiKey ?? "";
      renderHints();
    },
    write(s) {
      const problem = portProblem(port.value);
      if (problem) return problem;
      if (!host.value.trim()) return "Enter the address to serve on, e.g. 127.0.0.1.";
      s.localApi = current();
      return null;
    },
    showStatus(st) {
      lastStatus = st;
      const line = statusLine(st, enabled.checked);
      status.dataset.tone = line.tone;
      statusText.textContent = line.text;
      statusText.title = line.code ?? "";
      url = line.url;
      copy.hidden = url === null;
      renderHints();
    },
  };
}

