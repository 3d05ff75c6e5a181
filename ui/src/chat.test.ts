import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Conversation, SendTicket, Settings, StoredMessage, StreamEvent } from "./api";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      listConversations: vi.fn(),
      getConversation: vi.fn(),
      createConversation: vi.fn(),
      deleteConversation: vi.fn(),
      renameConversation: vi.fn(),
      truncateConversation: vi.fn(),
      sendMessage: vi.fn(),
      cancelGeneration: vi.fn(),
    },
  };
});

const { api } = await import("./api");
const { createChat, generationSettings, lastUserMessage } = await import("./chat");
const { createStore, initialState } = await import("./state");

const m = api as unknown as Record<string, ReturnType<typeof vi.fn>>;
const fn = (name: string) => m[name] as ReturnType<typeof vi.fn>;

function msg(id: string, role: "user" | "assistant", text: string): StoredMessage {
  return { id, role, text, images: [], status: "complete", createdMs: 1 };
}

function conv(id: string, messages: StoredMessage[] = []): Conversation {
  return { schemaVersion: 1, id, title: messages[0]?.text ?? "", createdMs: 1, updatedMs: 2, messages };
}

let emit: (e: StreamEvent) => void = () => undefined;
let resolveSend: (t: SendTicket) => void = () => undefined;

beforeEach(() => {
  vi.clearAllMocks();
  fn("listConversations").mockResolvedValue([]);
  fn("createConversation").mockResolvedValue(conv("c1"));
  fn("cancelGeneration").mockResolvedValue(true);
  fn("sendMessage").mockImplementation((_c: string, _t: string, _i: string[], _s: unknown, onEvent: (e: StreamEvent) => void) => {
    emit = onEvent;
    return new Promise<SendTicket>((r) => (resolveSend = r));
  });
});

const ticket = (text = "What is it?"): SendTicket => ({ generationId: 5, userMessage: msg("u1", "user", text), assistantMessageId: "a1" });
const done: StreamEvent = {
  type: "done", stopReason: "eos", generatedTokens: 2, promptTokens: 10, imageTokens: 0,
  timings: { visionS: 0, prefillS: 0.1, decodeS: 0.1, decodeTokensPerS: 20, firstTokenS: 0.3, totalS: 0.5 },
};
const flush = () => new Promise((r) => setTimeout(r, 0));

describe("chat controller", () => {
  it("creates a conversation, streams the answer into the store, then reloads", async () => {
    const store = createStore(initialState());
    const chat = createChat(store);
    const sent = chat.send("What is it?", []);
    await flush();
    expect(fn("createConversation")).toHaveBeenCalled();
    expect(store.get().currentId).toBe("c1");
    expect(store.get().pendingUser?.text).toBe("What is it?");
    expect(store.get().live?.phase).toBe("waiting");

    emit({ type: "started", generationId: 5, promptTokens: 10, imageTokens: 0, frames: 0, reusedTokens: 0 });
    resolveSend(ticket());
    expect(await sent).toBe(true);
    expect(store.get().live?.assistantMessageId).toBe("a1");

    emit({ type: "token", text: "A ", count: 1 });
    emit({ type: "token", text: "cat.", count: 1 });
    expect(store.get().live?.text).toBe("A cat.");

    fn("getConversation").mockResolvedValue(conv("c1", [msg("u1", "user", "What is it?"), msg("a1", "assistant", "A cat.")]));
    emit(done);
    await flush();
    await flush();
    expect(fn("getConversation")).toHaveBeenCalledWith("c1");
    expect(store.get().live).toBeNull();
    expect(store.get().pendingUser).toBeNull();
    expect(store.get().conversation?.messages.length).toBe(2);
    expect(store.get().answerStats["a1"]).toMatchObject({ tokPerS: 20, ttftS: 0.3, generatedTokens: 2 });
  });

  it("keeps an answer whose save failed, with the text the user saw and why", async () => {
    const store = createStore(initialState());
    const chat = createChat(store);
    const sent = chat.send("What is it?", []);
    await flush();
    resolveSend(ticket());
    await sent;
    emit({ type: "token", text: "A cat.", count: 1 });
    emit({ type: "save-failed", code: "storage", message: "disk full" });
    // What the store has: the last snapshot.
    fn("getConversation").mockResolvedValue(conv("c1", [msg("u1", "user", "What is it?"), { ...msg("a1", "assistant", "A"), status: "streaming" }]));
    emit(done);
    await flush();
    await flush();
    expect(store.get().unsaved["a1"]).toEqual({ text: "A cat.", error: { code: "storage", message: "disk full" } });
    expect(store.get().chatError).toBeNull();
  });

  it("says so in the chat when an unsaved answer is gone from the conversation", async () => {
    const store = createStore(initialState());
    const chat = createChat(store);
    const sent = chat.send("What is it?", []);
    await flush();
    resolveSend(ticket());
    await sent;
    emit({ type: "save-failed", code: "not_found", message: "conversation c1 not found" });
    fn("getConversation").mockRejectedValue({ code: "not_found", message: "conversation c1 not found" });
    emit(done);
    await flush();
    await flush();
    expect(store.get().chatError).toEqual({ code: "not_found", message: "The answer was not saved: conversation c1 not found" });
  });

  it("shows a refused send as an error and keeps nothing half-sent", async () => {
    fn("sendMessage").mockRejectedValue({ code: "busy", message: "another answer is being generated" });
    const store = createStore(initialState());
    const chat = createChat(store);
    expect(await chat.send("hi", [])).toBe(false);
    expect(store.get().live).toBeNull();
    expect(store.get().pendingUser).toBeNull();
    expect(store.get().chatError).toEqual({ code: "busy", message: "another answer is being generated" });
  });

  it("passes images and settings with the longest edge", async () => {
    const store = createStore(initialState());
    const settings: Settings = {
      temperature: 0.2, topP: 0.9, topK: 40, maxNewTokens: 300, repetitionPenalty: 1.1, systemPrompt: "",
      threads: 0, device: "auto", resolution: "standard", theme: "system", lastModel: null,
      localApi: { enabled: false, host: "127.0.0.1", port: 8080, apiKey: null }, connections: [], backend: null,
    };
    store.set({ settings, currentId: "c1", conversation: conv("c1") });
    const chat = createChat(store);
    const img = { sha256: "s", file: "/store/s.png", originalName: "s.png", width: 10, height: 10 };
    void chat.send("look", [img], 1536);
    await flush();
    expect(fn("sendMessage").mock.calls[0]?.slice(0, 4)).toEqual([
      "c1", "look", [{ file: "/store/s.png", originalName: "s.png", page: null }],
      { temperature: 0.2, topP: 0.9, topK: 40, maxNewTokens: 300, repetitionPenalty: 1.1, longestEdge: 1536 },
    ]);
  });

  it("stop before the ticket cancels once the generation id is known", async () => {
    const store = createStore(initialState());
    const chat = createChat(store);
    const sent = chat.send("hi", []);
    await flush();
    await chat.stop();
    expect(fn("cancelGeneration")).not.toHaveBeenCalled();
    resolveSend(ticket("hi"));
    await sent;
    expect(fn("cancelGeneration")).toHaveBeenCalledWith(5);
  });

  it("stop while streaming cancels the generation", async () => {
    const store = createStore(initialState());
    const chat = createChat(store);
    const sent = chat.send("hi", []);
    await flush();
    resolveSend(ticket("hi"));
    await sent;
    await chat.stop();
    expect(fn("cancelGeneration")).toHaveBeenCalledWith(5);
  });

  it("regenerate truncates at the last question and sends it again", async () => {
    const store = createStore(initialState());
    const q = { ...msg("u2", "user", "Again?"), images: [{ sha256: "s", file: "/store/s.png", originalName: "s.png", width: 1, height: 1 }] };
    const c = conv("c1", [msg("u1", "user", "First"), msg("a1", "assistant", "One"), q, msg("a2", "assistant", "Two")]);
    store.set({ currentId: "c1", conversation: c });
    fn("truncateConversation").mockResolvedValue(conv("c1", c.messages.slice(0, 2)));
    const chat = createChat(store);
    void chat.regenerate();
    await flush();
    expect(fn("truncateConversation")).toHaveBeenCalledWith("c1", "u2");
    expect(fn("sendMessage").mock.calls[0]?.slice(0, 3)).toEqual(["c1", "Again?", [{ file: "/store/s.png", originalName: "s.png", page: null }]]);
  });

  it("edit-and-resend truncates at the edited message and sends the new text", async () => {
    const store = createStore(initialState());
    const c = conv("c1", [msg("u1", "user", "First"), msg("a1", "assistant", "One")]);
    store.set({ currentId: "c1", conversation: c });
    fn("truncateConversation").mockResolvedValue(conv("c1", []));
    const chat = createChat(store);
    void chat.editAndResend("u1", "Better question");
    await flush();
    expect(fn("truncateConversation")).toHaveBeenCalledWith("c1", "u1");
    expect(fn("sendMessage").mock.calls[0]?.slice(0, 2)).toEqual(["c1", "Better question"]);
    expect(store.get().conversation?.messages).toEqual([]);
  });

  it("lists conversations newest first; rename and delete update the list", async () => {
    fn("listConversations").mockResolvedValue([
      { id: "a", title: "Old", updatedMs: 1, messages: 2 },
      { id: "b", title: "New", updatedMs: 9, messages: 2 },
    ]);
    const store = createStore(initialState());
    const chat = createChat(store);
    await chat.refreshList();
    expect(store.get().conversations.map((c) => c.id)).toEqual(["b", "a"]);
    fn("renameConversation").mockResolvedValue({ id: "a", title: "Renamed", updatedMs: 1, messages: 2 });
    await chat.rename("a", "Renamed");
    expect(store.get().conversations.find((c) => c.id === "a")?.title).toBe("Renamed");
    store.set({ currentId: "b" });
    fn("listConversations").mockResolvedValue([{ id: "a", title: "Renamed", updatedMs: 1, messages: 2 }]);
    await chat.remove("b");
    expect(fn("deleteConversation")).toHaveBeenCalledWith("b");
    expect(store.get().currentId).toBeNull();
    expect(store.get().conversations.length).toBe(1);
  });

  it("reuses an empty new conversation", async () => {
    const store = createStore(initialState());
    const chat = createChat(store);
    await chat.newConversation();
    await chat.newConversation();
    expect(fn("createConversation")).toHaveBeenCalledTimes(1);
  });
});

describe("chat helpers", () => {
  it("generation settings", () => {
    expect(generationSettings(null)).toBeNull();
    expect(generationSettings(null, 512)).toEqual({ longestEdge: 512 });
  });
  it("finds the last question", () => {
    expect(lastUserMessage([msg("u1", "user", "a"), msg("a1", "assistant", "b")])?.id).toBe("u1");
    expect(lastUserMessage([])).toBeNull();
  });
});
