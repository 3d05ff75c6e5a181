// Who answers the chat: the label on each answer (text only), the status bar's "Answering
// with", a connection's error in the answer, and sending with no model when a connection answers.

import { describe, expect, it, vi } from "vitest";
import type { Conversation, ModelStatus, Settings, StoredMessage } from "./api";

vi.mock("./assets", () => ({ imageSrc: (f: string) => `asset://localhost/${encodeURIComponent(f)}` }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { pickImages: vi.fn(async () => []) } };
});

const { answeredByEl, errorHint } = await import("./answer-meta");
const { createChatView } = await import("./chat-view");
const { createStatusBar } = await import("./statusbar");
const { createComposerView } = await import("./composer-view");
const { Composer } = await import("./composer");
const { PdfPages } = await import("./pdf-pages");
const { createStore, initialState } = await import("./state");
const { DEFAULT_SETTINGS } = await import("./settings");
const { newLiveAnswer, applyStreamEvent } = await import("./stream");
type AppState = import("./state").AppState;

const chat = {
  refreshList: vi.fn(), open: vi.fn(), newConversation: vi.fn(async () => undefined), send: vi.fn(async () => true),
  stop: vi.fn(async () => undefined), regenerate: vi.fn(async () => true), editAndResend: vi.fn(async () => true), rename: vi.fn(async () => undefined), remove: vi.fn(async () => undefined),
};

const empty: ModelStatus = { state: "empty", model: null, loading: null, generationId: null, restarts: 0, lastError: null };
const HOSTILE = `<img src=x onerror="window.__pwned=1">Second · <b>m</b>`;

const remote: Settings = {
  ...DEFAULT_SETTINGS,
  connections: [{ id: "second", name: "Second", baseUrl: "http://127.0.0.1:9/v1", apiKey: null, model: "" }],
  backend: "second",
};

function msg(id: string, role: "user" | "assistant", text: string, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { id, role, text, images: [], status: "complete", createdMs: 1, ...extra };
}

describe("the answered-by label", () => {
  it("is text, never markup", () => {
    const el = answeredByEl(HOSTILE);
    expect(el?.textContent).toBe(HOSTILE);
    expect(el?.querySelector("img, b")).toBeNull();
    expect(el?.dataset.testid).toBe("answered-by");
    expect(answeredByEl("  ")).toBeNull();
    expect(answeredByEl(undefined)).toBeNull();
  });

  it("shows on stored answers that have one, and on the answer streaming in", async () => {
    const conversation: Conversation = {
      schemaVersion: 1, id: "c1", title: "t", createdMs: 1, updatedMs: 1,
      messages: [msg("u1", "user", "hi"), msg("a1", "assistant", "Old answer"), msg("u2", "user", "again"),
        msg("a2", "assistant", "**Hello**", { answeredBy: HOSTILE })],
    };
    const store = createStore<AppState>({ ...initialState(), status: empty, settings: remote, currentId: "c1", conversation });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    const labels = Array.from(el.querySelectorAll('[data-testid="answered-by"]'));
    expect(labels.map((l) => l.closest<HTMLElement>('[data-testid="message"]')?.dataset.id)).toEqual(["a2"]);
    expect(labels[0]?.textContent).toBe(HOSTILE);
    expect(el.querySelector('[data-id="a2"] img')).toBeNull();
    // The label is not part of the answer's text.
    expect(el.querySelector('[data-id="a2"] [data-testid="message-text"]')?.textContent).toBe("Hello");

    const live = applyStreamEvent(newLiveAnswer("c1", Date.now(), "Second"), { type: "token", text: "Hi", count: 1 }, Date.now());
    store.set({ live, pendingUser: msg("pending", "user", "third") });
    await new Promise((r) => requestAnimationFrame(r));
    const streaming = el.querySelector('[data-role="assistant"][data-status="streaming"]');
    expect(streaming?.querySelector('[data-testid="answered-by"]')?.textContent).toBe("Second");
  });
});

describe("a connection's failure", () => {
  it("shows in the answer with what to do, and the question stays", async () => {
    const live = applyStreamEvent(newLiveAnswer("c1", Date.now(), "Second"),
      { type: "error", code: "remote_connect", message: "connection Second: cannot connect to http://127.0.0.1:9/v1" }, Date.now());
    const store = createStore<AppState>({
      ...initialState(), status: empty, settings: remote, currentId: "c1",
      conversation: { schemaVersion: 1, id: "c1", title: "t", createdMs: 1, updatedMs: 1, messages: [] },
      live, pendingUser: msg("u1", "user", "What is in the picture?"),
    });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    await new Promise((r) => requestAnimationFrame(r));
    const error = el.querySelector('[data-role="assistant"] [data-testid="message-error"]');
    expect(error?.textContent).toContain("connection Second: cannot connect");
    expect(error?.textContent).toContain("remote_connect");
    expect(error?.textContent).toContain("Settings → Connections");
    expect(el.querySelector('[data-role="user"] [data-testid="message-text"]')?.textContent).toBe("What is in the picture?");
    expect(errorHint("remote_http")).toMatch(/API key/);
    expect(errorHint("prompt_too_long")).toMatch(/new chat/);
    expect(errorHint("worker_crashed")).toBeNull();
  });
});

describe("answering with a connection", () => {
  it("the status bar names who answers", () => {
    const store = createStore<AppState>({ ...initialState(), status: empty, settings: remote });
    const openSettings = vi.fn();
    const el = createStatusBar(store, vi.fn(), openSettings);
    const backend = el.querySelector<HTMLButtonElement>('[data-testid="answering-with"]');
    expect(backend?.textContent).toBe("Answering with:Second");
    backend?.click();
    expect(openSettings).toHaveBeenCalled();
    store.set({ settings: { ...remote, backend: null } });
    expect(backend?.textContent).toBe("Answering with:This computer");
  });

  it("the composer sends with no model loaded, and not without a connection", async () => {
    const store = createStore<AppState>({ ...initialState(), status: empty, settings: remote });
    const view = createComposerView({ store, composer: new Composer(), pdfs: new PdfPages(new Composer()), chat });
    const input = view.el.querySelector<HTMLTextAreaElement>('[data-testid="composer-input"]');
    const send = view.el.querySelector<HTMLButtonElement>('[data-testid="send"]');
    if (!input || !send) throw new Error("no composer");
    input.value = "Hello there";
    input.dispatchEvent(new Event("input"));
    expect(send.disabled).toBe(false);
    expect(input.placeholder).not.toMatch(/load a model/);
    // The server picks the resolution: the control is hidden.
    expect(view.el.querySelector<HTMLElement>(".resolution")?.hidden).toBe(true);
    store.set({ settings: { ...remote, backend: null } });
    expect(send.disabled).toBe(true);
    expect(send.title).toBe("Load a model first");
    store.set({ settings: remote });
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", cancelable: true }));
    await new Promise((r) => setTimeout(r, 0));
    expect(chat.send).toHaveBeenCalledWith("Hello there", [], undefined);
  });
});
