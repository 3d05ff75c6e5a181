import { describe, expect, it, vi } from "vitest";
import type { Conversation, ModelStatus, StoredMessage } from "./api";

vi.mock("./assets", () => ({ imageSrc: (f: string) => `asset://localhost/${encodeURIComponent(f)}` }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { pickImages: vi.fn(async () => []) } };
});

const { createChatView } = await import("./chat-view");
const { createSidebar } = await import("./sidebar");
const { createStatusBar, describeStatus } = await import("./statusbar");
const { createComposerView } = await import("./composer-view");
const { Composer } = await import("./composer");
const { PdfPages } = await import("./pdf-pages");
const { createStore, initialState } = await import("./state");
type AppState = import("./state").AppState;
const { newLiveAnswer, applyStreamEvent } = await import("./stream");
const { renderMarkdownInto } = await import("./markdown");

const chat = {
  refreshList: vi.fn(), open: vi.fn(), newConversation: vi.fn(async () => undefined), send: vi.fn(async () => true),
  stop: vi.fn(async () => undefined), regenerate: vi.fn(async () => true), editAndResend: vi.fn(async () => true), rename: vi.fn(async () => undefined), remove: vi.fn(async () => undefined),
};

const ready: ModelStatus = {
  state: "ready", loading: null, generationId: null, restarts: 0, lastError: null,
  model: { path: "/m", name: "SmolVLM-256M-Instruct", device: "cpu", kernels: "avx512", threads: 4, deviceNotice: null, hasVision: true, contextLength: 8192, loadS: 1.2 },
};

function msg(id: string, role: "user" | "assistant", text: string, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { id, role, text, images: [], status: "complete", createdMs: 1, ...extra };
}

const conversation: Conversation = {
  schemaVersion: 1, id: "c1", title: "Cat", createdMs: 1, updatedMs: 2,
  messages: [
    msg("u1", "user", "<b>What</b> is this?", { images: [{ sha256: "s", file: "/store/s.png", originalName: "cat.png", width: 640, height: 480 }] }),
    msg("a1", "assistant", "A **cat**.\n\n```py\nprint(1)\n```\n\n<img src=x onerror=alert(1)>"),
  ],
};

describe("chat view", () => {
  it("says an answer was not saved and shows the text the user saw", () => {
    const stored: Conversation = { ...conversation, messages: [conversation.messages[0]!, msg("a1", "assistant", "A c", { status: "streaming" })] };
    const store = createStore<AppState>({
      ...initialState(), status: ready, currentId: "c1", conversation: stored,
      unsaved: { a1: { text: "A cat.", error: { code: "storage", message: "disk full" } } },
    });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    const notice = el.querySelector('[data-role="assistant"] [data-testid="message-save-error"]');
    expect(notice?.textContent).toContain("This answer was not saved: disk full");
    expect(el.querySelector('[data-role="assistant"] [data-testid="message-text"]')?.textContent).toBe("A cat.");
  });

  it("says when the conversations are read-only", () => {
    const info = {
      version: "0", dataDir: "/d", imagesDir: "/d/images", maxImagesPerMessage: 8, maxImageFileBytes: 1, maxTextChars: 1,
      readOnly: { reason: "other-instance" as const },
    };
    const store = createStore<AppState>({ ...initialState(), status: ready, currentId: "c1", conversation, info });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    expect(el.querySelector('[data-testid="read-only-notice"]')?.textContent).toContain("Another SmolVLM Desktop window");
  });

  it("renders stored messages with their test ids and actions", () => {
    const store = createStore<AppState>({ ...initialState(), status: ready, currentId: "c1", conversation });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    const messages = el.querySelectorAll('[data-testid="message"]');
    expect(el.dataset.testid).toBe("messages");
    expect(Array.from(messages).map((m) => (m as HTMLElement).dataset.role)).toEqual(["user", "assistant"]);
    expect(el.querySelector('[data-role="user"] [data-testid="message-text"]')?.textContent).toBe("<b>What</b> is this?");
    expect(el.querySelector('[data-role="user"] b')).toBeNull();
    const img = el.querySelector<HTMLImageElement>('[data-testid="message-image"] img');
    expect(img?.getAttribute("src")).toBe("asset://localhost/%2Fstore%2Fs.png");
    expect(el.querySelector('[data-role="assistant"] strong')?.textContent).toBe("cat");
    expect(el.querySelectorAll('[data-role="assistant"] img').length).toBe(0);
    for (const id of ["code-copy", "copy-answer", "regenerate", "edit-message"]) {
      expect(el.querySelector(`[data-testid="${id}"]`), id).not.toBeNull();
    }
    (el.querySelector('[data-testid="regenerate"]') as HTMLButtonElement).click();
    expect(chat.regenerate).toHaveBeenCalled();
  });

  it("shows a reopened answer's time to first token and where it went", () => {
    const timed: Conversation = { ...conversation, messages: [conversation.messages[0]!, msg("a1", "assistant", "A cat.", {
      generatedTokens: 9,
      timings: { visionS: 2.25, prefillS: 0.5, decodeS: 0.8, decodeTokensPerS: 10, firstTokenS: 2.9, totalS: 3.7 },
    })] };
    const store = createStore<AppState>({ ...initialState(), status: ready, currentId: "c1", conversation: timed });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    expect(el.querySelector('[data-testid="ttft"]')?.textContent).toBe("TTFT 2.90 s");
    expect(el.querySelector('[data-testid="stage-times"]')?.textContent).toBe("vision 2.25 s · prefill 0.50 s");
    // Answers saved without timings show none.
    store.set({ conversation });
    expect(el.querySelector('[data-testid="stage-times"]')).toBeNull();
  });

  it("edits a message in place and resends it", () => {
    const store = createStore<AppState>({ ...initialState(), status: ready, currentId: "c1", conversation });
    const el = createChatView({ store, chat, longestEdge: () => 1024, emptyState: () => document.createElement("div") });
    (el.querySelector('[data-testid="edit-message"]') as HTMLButtonElement).click();
    const input = el.querySelector<HTMLTextAreaElement>('[data-testid="edit-input"]');
    expect(input?.value).toBe("<b>What</b> is this?");
    if (input) input.value = "What breed?";
    (el.querySelector('[data-testid="edit-send"]') as HTMLButtonElement).click();
    expect(chat.editAndResend).toHaveBeenCalledWith("u1", "What breed?", 1024);
  });

  it("shows the streaming answer with its stats, then an error inline", async () => {
    let live = newLiveAnswer("c1", Date.now() - 1000);
    live = applyStreamEvent(live, { type: "token", text: "Hel", count: 1 }, Date.now() - 500);
    live = applyStreamEvent(live, { type: "token", text: "lo", count: 5 }, Date.now());
    const store = createStore<AppState>({ ...initialState(), status: { ...ready, state: "generating" as const }, currentId: "c1", conversation: { ...conversation, messages: [] }, live, pendingUser: msg("pending", "user", "hi") });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    await new Promise((r) => requestAnimationFrame(r));
    const answer = el.querySelector<HTMLElement>('[data-role="assistant"]');
    expect(answer?.dataset.status).toBe("streaming");
    expect(answer?.querySelector('[data-testid="message-text"]')?.textContent).toBe("Hello");
    expect(el.querySelector('[data-testid="tok-per-s"]')?.textContent).toMatch(/tok\/s/);
    expect(el.querySelector('[data-testid="ttft"]')?.textContent).toMatch(/TTFT \d/);
    store.set({ live: applyStreamEvent(live, { type: "error", code: "worker_crashed", message: "It broke" }, Date.now()) });
    await new Promise((r) => requestAnimationFrame(r));
    expect(answer?.dataset.status).toBe("error");
    expect(el.querySelector('[data-testid="message-error"]')?.textContent).toContain("It broke");
    expect(el.querySelector('[data-testid="message-error"]')?.textContent).toContain("worker_crashed");
  });
});

describe("streaming answer rendering", () => {
  it("renders finished blocks once while the rest streams, and the whole answer at the end", async () => {
    let live = newLiveAnswer("c1", Date.now() - 1000);
    live = applyStreamEvent(live, { type: "token", text: "First **block**.\n\nSec", count: 4 }, Date.now());
    const store = createStore<AppState>({ ...initialState(), status: { ...ready, state: "generating" as const }, currentId: "c1", conversation: { ...conversation, messages: [] }, live, pendingUser: msg("pending", "user", "hi") });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    await new Promise((r) => requestAnimationFrame(r));
    const text = () => el.querySelector<HTMLElement>('[data-role="assistant"] [data-testid="message-text"]');
    const first = text()?.querySelector("p");
    expect(first?.textContent).toBe("First block.");
    for (const piece of ["ond block\n", "continues.\n\n```js\nlet a = 1;\n\n", "let b = 2;\n```\n\nEnd"]) {
      live = applyStreamEvent(live, { type: "token", text: piece, count: 2 }, Date.now());
      store.set({ live });
      await new Promise((r) => requestAnimationFrame(r));
      // The first paragraph is the same node: it was not rendered again.
      expect(text()?.querySelector("p")).toBe(first);
      expect(text()?.querySelectorAll(".caret").length).toBe(1);
    }
    expect(text()?.querySelector("pre code")?.textContent).toBe("let a = 1;\n\nlet b = 2;\n");
    expect(text()?.querySelectorAll('[data-testid="code-copy"]').length).toBe(1);
    live = applyStreamEvent(live, { type: "done", stopReason: "eos", promptTokens: 3, imageTokens: 0, generatedTokens: 8,
      timings: { visionS: 0, prefillS: 0.1, decodeS: 0.8, decodeTokensPerS: 10, firstTokenS: 0.1, totalS: 1 } }, Date.now());
    store.set({ live });
    await new Promise((r) => requestAnimationFrame(r));
    const whole = document.createElement("div");
    renderMarkdownInto(whole, live.text, () => undefined);
    expect(text()?.innerHTML).toBe(whole.innerHTML);
    expect(text()?.querySelector(".caret")).toBeNull();
  });
});

describe("sidebar", () => {
  it("lists conversations newest first with rename and delete", () => {
    const store = createStore<AppState>({
      ...initialState(), conversationsLoaded: true, currentId: "b",
      conversations: [
        { id: "a", title: "Older one", updatedMs: Date.now() - 3 * 86_400_000, messages: 2 },
        { id: "b", title: "", updatedMs: Date.now(), messages: 0 },
      ],
    });
    const el = createSidebar({ store, chat, openModels: vi.fn(), openSettings: vi.fn() });
    const items = Array.from(el.querySelectorAll<HTMLElement>('[data-testid="conversation-item"]'));
    expect(items.map((i) => i.dataset.id)).toEqual(["b", "a"]);
    expect(items[0]?.textContent).toContain("New chat");
    expect(items[0]?.querySelector('[data-testid="conversation-rename"]')).not.toBeNull();
    expect(items[0]?.querySelector('[data-testid="conversation-delete"]')).not.toBeNull();
    (items[1]?.querySelector('[data-testid="conversation-rename"]') as HTMLButtonElement).click();
    const input = el.querySelector<HTMLInputElement>('[data-testid="rename-input"]');
    expect(input?.value).toBe("Older one");
    if (input) {
      input.value = "Renamed";
      input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" }));
    }
    expect(chat.rename).toHaveBeenCalledWith("a", "Renamed");
  });
});

describe("status bar", () => {
  it("says the state and the device", () => {
    const store = createStore<AppState>({ ...initialState(), status: ready });
    const el = createStatusBar(store, vi.fn());
    const text = el.querySelector('[data-testid="model-status"]')?.textContent ?? "";
    expect(text).toContain("ready");
    expect(text).toContain("CPU · AVX-512 · 4 threads");
    const gpu = { ...ready, model: { ...ready.model!, device: "metal" as const, kernels: null } };
    expect(describeStatus(gpu).detail).toBe("SmolVLM-256M-Instruct · Metal");
    expect(describeStatus({ ...ready, state: "empty", model: null }).state).toBe("empty");
    store.set({ status: { ...ready, state: "generating" } });
    expect(el.querySelector('[data-testid="model-status"]')?.textContent).toContain("generating");
  });
});

describe("composer view", () => {
  it("sends on Enter, keeps Shift+Enter for new lines, and offers stop while generating", async () => {
    const store = createStore<AppState>({ ...initialState(), status: ready });
    const composer = new Composer();
    const view = createComposerView({ store, composer, pdfs: new PdfPages(composer), chat });
    const input = view.el.querySelector<HTMLTextAreaElement>('[data-testid="composer-input"]');
    const send = view.el.querySelector<HTMLButtonElement>('[data-testid="send"]');
    const stop = view.el.querySelector<HTMLButtonElement>('[data-testid="stop"]');
    expect(send?.disabled).toBe(true);
    if (!input) throw new Error("no input");
    input.value = "Hello";
    input.dispatchEvent(new Event("input"));
    expect(send?.disabled).toBe(false);
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", shiftKey: true, cancelable: true }));
    expect(chat.send).not.toHaveBeenCalled();
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", cancelable: true }));
    await new Promise((r) => setTimeout(r, 0));
    expect(chat.send).toHaveBeenCalledWith("Hello", [], undefined);
    expect(input.value).toBe("");
    expect(stop?.hidden).toBe(true);
    store.set({ status: { ...ready, state: "generating" } });
    expect(stop?.hidden).toBe(false);
    expect(send?.hidden).toBe(true);
    expect(view.el.querySelector('[data-testid="resolution"]')).not.toBeNull();
    expect(view.el.querySelector('[data-testid="attach"]')).not.toBeNull();
  });
});
