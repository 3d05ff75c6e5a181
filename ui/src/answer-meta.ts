// What an answer says about itself besides its text: who answered it (a small, muted label) and,
// for an answer a connection failed to give, what to do next. Labels come from settings and
// servers, so they are set as text only.

import { h } from "./dom";

/** The "who answered" label of an assistant message, or null when it is not known. */
export function answeredByEl(label: string | null | undefined): HTMLElement | null {
  const text = label?.trim();
  if (!text) return null;
  return h("div", { class: "msg-by", testid: "answered-by", title: `Answered by ${text}`, text });
}

/** A hint after an answer's error: how to recover from a connection's failure, else null. */
export function errorHint(code: string): string | null {
  switch (code) {
    case "remote_connect":
      return "The connection's server did not answer. Check that it runs and its address in Settings → Connections, then regenerate (your question is kept).";
    case "remote_http":
      return "The connection's server refused the request. Check its API key and model name in Settings → Connections, then regenerate (your question is kept).";
    case "remote_protocol":
    case "remote_invalid_url":
      return "The connection did not answer as an OpenAI-compatible server. Check its base URL (usually ending in /v1) in Settings → Connections.";
    case "prompt_too_long":
      // The whole conversation goes with every question: a long one fills the context.
      return "Every question sends the whole conversation. Start a new chat, edit a long message, or pick Fast for fewer image tokens.";
    default:
      return null;
  }
}
