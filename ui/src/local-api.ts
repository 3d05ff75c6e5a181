// The local API (the app's OpenAI-compatible server) as the settings show it: the status line,
// where it serves, how to call it. Pure: no DOM, no backend.

import type { LocalApiSettings, LocalApiStatus } from "./api";

export type StatusTone = "ok" | "error" | "off" | "pending";

export interface StatusLine {
  tone: StatusTone;
  text: string;
  /** The address to copy, while serving. */
  url: string | null;
  /** The error's code, for a tooltip. */
  code: string | null;
}

/** The status line for `status` (null: not read yet) of a server whose settings say `enabled`. */
export function statusLine(status: LocalApiStatus | null, enabled: boolean): StatusLine {
  if (!status) return { tone: "pending", text: "Checking…", url: null, code: null };
  if (status.running && status.url) {
    return { tone: "ok", text: `Serving at ${status.url}`, url: status.url, code: null };
  }
  if (status.error) {
    return { tone: "error", text: `Not serving: ${status.error.message}`, url: null, code: status.error.code };
  }
  if (enabled) return { tone: "error", text: "Not serving: the server did not start.", url: null, code: null };
  return { tone: "off", text: "Off: nothing listens. Turn it on and save to serve.", url: null, code: null };
}

function isLoopback(host: string): boolean {
  return host === "127.0.0.1" || host === "::1" || host.startsWith("127.");
}

/** Where the settings would serve, as clients on this computer reach it (an unspecified address
 * such as 0.0.0.0 is reached through loopback). */
export function settingsUrl(api: LocalApiSettings): string {
  let host = api.host.trim();
  if (host === "0.0.0.0" || host === "") host = "127.0.0.1";
  else if (host === "::") host = "::1";
  const shown = host.includes(":") ? `[${host}]` : host;
  return `http://${shown}:${api.port}/v1`;
}

/** A one-line curl call of the chat completions at `url` (the API's root, `…/v1`). */
export function curlHint(url: string, withKey: boolean): string {
  const auth = withKey ? ` -H "Authorization: Bearer $API_KEY"` : "";
  return `curl ${url}/chat/completions -H "Content-Type: application/json"${auth} ` +
    `-d '{"messages":[{"role":"user","content":"Hello!"}]}'`;
}

/** A warning for settings that open the API to the network without a key, else null. */
export function exposureWarning(api: LocalApiSettings): string | null {
  if (!api.enabled || isLoopback(api.host.trim())) return null;
  if (api.apiKey && api.apiKey.trim()) return null;
  return "Other computers on the network can use this address: set an API key.";
}

/** Why the port field's text is not a port, or null. */
export function portProblem(text: string): string | null {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return "The port must be a whole number between 1 and 65535.";
  const n = Number(t);
  return n >= 1 && n <= 65535 ? null : "The port must be between 1 and 65535.";
}
