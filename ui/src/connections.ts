// Connections (OpenAI-compatible servers the chat can answer with) and who answers the chat:
// ids made from names, the add form's checks, the labels the settings, the status bar and the
// messages show. Pure: no DOM, no backend.

import type { Connection, ModelStatus, Settings } from "./api";

/** What the add form holds, before it is a connection. */
export interface ConnectionDraft {
  name: string;
  baseUrl: string;
  apiKey: string;
  model: string;
}

const MAX_ID = 64;
const MAX_NAME = 200;
const MAX_FIELD = 2048;

/** An id for a connection named `name`: its letters and digits in lower case, words joined by
 * `-` (what the backend accepts: 1-64 of `[A-Za-z0-9_-]`), made unique among `taken` by a
 * `-2`, `-3`, … suffix. */
export function connectionId(name: string, taken: readonly string[]): string {
  const base = name
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_ID - 4)
    .replace(/-+$/, "") || "connection";
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) {
    const id = `${base}-${n}`;
    if (!used.has(id)) return id;
  }
}

/** The address as it is saved: trimmed, without trailing slashes. */
export function normalizeBaseUrl(url: string): string {
  return url.trim().replace(/\/+$/, "");
}

/** Why the draft cannot be added (a sentence for people), or null when it can. */
export function draftProblem(d: ConnectionDraft, existing: readonly Connection[]): string | null {
  const name = d.name.trim();
  if (!name) return "Give the connection a name.";
  if (name.length > MAX_NAME) return `The name is too long (at most ${MAX_NAME} characters).`;
  if (existing.some((c) => c.name.trim().toLowerCase() === name.toLowerCase())) {
    return `There is already a connection named “${name}”.`;
  }
  const url = normalizeBaseUrl(d.baseUrl);
  if (!url) return "Enter the server's address, e.g. http://gpu-box:8000/v1.";
  if (!/^https?:\/\/[^\s/]+/i.test(url) || /\s/.test(url) || url.length > MAX_FIELD) {
    return "The address must be an http:// or https:// URL, e.g. http://gpu-box:8000/v1.";
  }
  if (d.apiKey.length > MAX_FIELD || !/^[\x20-\x7e]*$/.test(d.apiKey)) {
    return "The API key may hold only printable ASCII characters.";
  }
  if (d.model.length > MAX_FIELD || /[\r\n]/.test(d.model)) return "The model name is not usable.";
  return null;
}

/** The connection the draft makes (call `draftProblem` first). */
export function connectionFromDraft(d: ConnectionDraft, existing: readonly Connection[]): Connection {
  const key = d.apiKey.trim();
  return {
    id: connectionId(d.name.trim(), existing.map((c) => c.id)),
    name: d.name.trim(),
    baseUrl: normalizeBaseUrl(d.baseUrl),
    apiKey: key ? key : null,
    model: d.model.trim(),
  };
}

/** One line about a connection for its list item: address, model, whether it sends a key. */
export function connectionSummary(c: Connection): string {
  const parts = [c.baseUrl, c.model ? `model ${c.model}` : "the server's default model"];
  if (c.apiKey) parts.push("with an API key");
  return parts.join(" · ");
}

/** The connection that answers the chat, or null when this computer's model does. */
export function activeConnection(s: Settings | null): Connection | null {
  if (!s?.backend) return null;
  return s.connections.find((c) => c.id === s.backend) ?? null;
}

/** The backend's label of a connection's answers (`StoredMessage.answeredBy`). */
export function connectionLabel(c: Connection): string {
  return c.model ? `${c.name} · ${c.model}` : c.name;
}

/** Who will answer the next question, as the status bar says it (beside the model's status,
 * which names the local model). */
export function answeringWith(s: Settings | null): string {
  const c = activeConnection(s);
  return c ? connectionLabel(c) : "This computer";
}

/** Who the answer being sent now will be saved as answered by (as the backend labels it), or
 * null when no one can answer. */
export function expectedAnsweredBy(s: Settings | null, status: ModelStatus | null): string | null {
  const c = activeConnection(s);
  if (c) return connectionLabel(c);
  return status?.model?.name ?? null;
}
