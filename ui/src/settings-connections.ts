// The settings' "Connections" section: the OpenAI-compatible servers the chat may answer with
// (a list with remove, an add form) and which of them answers ("Answer with"). Changes are kept
// in the dialog until Save.

import type { Connection, Settings } from "./api";
import {
  connectionFromDraft,
  connectionSummary,
  draftProblem,
  type ConnectionDraft,
} from "./connections";
import { h, setChildren } from "./dom";
import { row } from "./form-row";
import { icon } from "./icons";

export interface ConnectionsSection {
  el: HTMLElement;
  read(s: Settings): void;
  /** Writes the connections and the backend into `s` (adding what the add form holds, if
   * anything); a problem (for people) when it cannot. */
  write(s: Settings): string | null;
}

const LOCAL = "";

export function createConnectionsSection(): ConnectionsSection {
  let connections: Connection[] = [];

  const backend = h("select", { class: "select", testid: "setting-backend" });
  const list = h("ul", { class: "connection-list", testid: "connection-list" });
  const name = h("input", { type: "text", class: "input", testid: "connection-name", autocomplete: "off", placeholder: "e.g. GPU box" });
  const url = h("input", { type: "url", class: "input", testid: "connection-url", spellcheck: "false", autocomplete: "off", placeholder: "http://gpu-box:8000/v1" });
  const key = h("input", { type: "password", class: "input", testid: "connection-key", autocomplete: "new-password", placeholder: "none" });
  const model = h("input", { type: "text", class: "input", testid: "connection-model", spellcheck: "false", autocomplete: "off", placeholder: "the server's default" });
  const add = h("button", { type: "button", class: "button", testid: "connection-add" }, icon("plus"), h("span", { text: "Add connection" }));
  const problem = h("p", { class: "inline-error", role: "alert", testid: "connection-error", hidden: true });

  const draft = (): ConnectionDraft => ({ name: name.value, baseUrl: url.value, apiKey: key.value, model: model.value });
  const draftEmpty = () => !name.value.trim() && !url.value.trim() && !key.value && !model.value.trim();

  function renderBackend(selected: string | null): void {
    const keep = selected !== null && connections.some((c) => c.id === selected) ? selected : LOCAL;
    setChildren(backend,
      h("option", { value: LOCAL, text: "This computer" }),
      ...connections.map((c) => h("option", { value: c.id, text: c.name })));
    backend.value = keep;
  }

  function renderList(): void {
    const selected = backend.value || null;
    if (connections.length === 0) {
      setChildren(list, h("li", { class: "connection-empty muted", text: "No connections yet." }));
    } else {
      setChildren(list, ...connections.map((c) => {
        const remove = h("button", { type: "button", class: "icon-button small", testid: "connection-remove", "aria-label": `Remove ${c.name}`, title: `Remove ${c.name}` }, icon("trash"));
        remove.addEventListener("click", () => {
          connections = connections.filter((x) => x.id !== c.id);
          renderList();
        });
        return h("li", { class: "connection-item", testid: "connection-item", "data-id": c.id },
          h("div", { class: "connection-main" },
            h("strong", { class: "connection-name", text: c.name }),
            h("span", { class: "connection-summary", text: connectionSummary(c) })),
          remove);
      }));
    }
    renderBackend(selected);
  }

  function showProblem(text: string | null): void {
    problem.textContent = text ?? "";
    problem.hidden = text === null;
  }

  /** Adds the draft; false (with the problem shown) when it is not a usable connection. */
  function addDraft(): boolean {
    const p = draftProblem(draft(), connections);
    showProblem(p);
    if (p) return false;
    connections = [...connections, connectionFromDraft(draft(), connections)];
    for (const input of [name, url, key, model]) input.value = "";
    renderList();
    return true;
  }

  add.addEventListener("click", () => {
    if (addDraft()) name.focus();
  });
  // Enter in the add form adds, rather than submitting (saving) the whole dialog.
  for (const input of [name, url, key, model]) {
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.isComposing) {
        ev.preventDefault();
        addDraft();
      }
    });
  }

  const el = h("fieldset", { class: "fieldset", testid: "connections-section" },
    h("legend", { text: "Connections" }),
    h("p", { class: "field-hint wide", text: "OpenAI-compatible servers (vLLM, llama-server, another computer's smolvlm serve) that can answer the chat instead of this computer." }),
    h("div", { class: "wide" }, row("Answer with", backend, "Who answers your next question.")),
    h("div", { class: "wide" }, list),
    h("div", { class: "connection-add wide", testid: "connection-form" },
      row("Name", name),
      row("Base URL", url, "Up to the API's root, usually ending in /v1."),
      row("API key (optional)", key),
      row("Model (optional)", model, "As the server's /v1/models names it."),
      h("div", { class: "connection-add-actions" }, problem, add)));

  return {
    el,
    read(s) {
      connections = s.connections.map((c) => ({ ...c }));
      for (const input of [name, url, key, model]) input.value = "";
      showProblem(null);
      renderBackend(s.backend);
      renderList();
    },
    write(s) {
      if (!draftEmpty() && !addDraft()) return problem.textContent;
      s.connections = connections;
      s.backend = backend.value || null;
      return null;
    },
  };
}
