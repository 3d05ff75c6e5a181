// Conversations and answers: open, create, send (streaming into the store), stop, regenerate,
// edit-and-resend. No DOM here.

import {
  api,
  toApiError,
  type GenerationSettings,
  type Settings,
  type StoredImage,
  type StoredMessage,
} from "./api";
import { expectedAnsweredBy } from "./connections";
import type { AppState, Store } from "./state";
import { applyStreamEvent, isFinished, newLiveAnswer, type LiveAnswer } from "./stream";

export interface ChatController {
  refreshList(): Promise<void>;
  open(id: string): Promise<void>;
  newConversation(): Promise<void>;
  send(text: string, images: StoredImage[], longestEdge?: number): Promise<boolean>;
  stop(): Promise<void>;
  regenerate(longestEdge?: number): Promise<boolean>;
  editAndResend(messageId: string, text: string, longestEdge?: number): Promise<boolean>;
  rename(id: string, title: string): Promise<void>;
  remove(id: string): Promise<void>;
}

/** Send settings from the saved settings and the composer's resolution. */
export function generationSettings(s: Settings | null, longestEdge?: number): GenerationSettings | null {
  const g: GenerationSettings = {};
  if (s) {
    g.temperature = s.temperature;
    g.topP = s.topP;
    g.topK = s.topK;
    g.maxNewTokens = s.maxNewTokens;
    g.repetitionPenalty = s.repetitionPenalty;
  }
  if (longestEdge !== undefined) g.longestEdge = longestEdge;
  return Object.keys(g).length > 0 ? g : null;
}

export function lastUserMessage(messages: readonly StoredMessage[]): StoredMessage | null {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m && m.role === "user") return m;
  }
  return null;
}

/** What to keep of an answer whose save failed: shown on its message with the text the user saw,
 * or as the chat's error when the conversation no longer has it. */
export function unsavedPatch(
  live: LiveAnswer,
  messages: readonly StoredMessage[] | null,
  unsaved: AppState["unsaved"],
): Partial<AppState> {
  const error = live.saveError;
  if (!error) return {};
  const id = live.assistantMessageId;
  if (id && messages?.some((m) => m.id === id)) return { unsaved: { ...unsaved, [id]: { text: live.text, error } } };
  return { chatError: { code: error.code, message: `The answer was not saved: ${error.message}` } };
}

export function createChat(store: Store<AppState>): ChatController {
  let sendSeq = 0;
  let stopRequested = false;

  async function refreshList(): Promise<void> {
    const list = await api.listConversations();
    list.sort((a, b) => b.updatedMs - a.updatedMs);
    store.set({ conversations: list, conversationsLoaded: true });
  }

  async function open(id: string): Promise<void> {
    const conversation = await api.getConversation(id);
    store.set({ currentId: id, conversation, chatError: null });
  }

  async function newConversation(): Promise<void> {
    const s = store.get();
    // An empty, untitled conversation is reused rather than piling up "New chat"s.
    if (s.conversation && s.conversation.messages.length === 0 && !s.conversation.title) return;
    const c = await api.createConversation();
    store.set({ currentId: c.id, conversation: c, chatError: null });
    await refreshList();
  }

  function updateLive(seq: number, f: (l: LiveAnswer) => LiveAnswer): LiveAnswer | null {
    const cur = store.get().live;
    if (seq !== sendSeq || !cur) return null;
    const next = f(cur);
    if (next !== cur) store.set({ live: next });
    return next;
  }

  async function finish(seq: number, ticket: Promise<unknown>): Promise<void> {
    await ticket.catch(() => undefined);
    if (seq !== sendSeq) return;
    const live = store.get().live;
    if (!live) return;
    const stats = { ...store.get().answerStats };
    if (live.assistantMessageId && live.stats) stats[live.assistantMessageId] = live.stats;
    let conversation = store.get().conversation;
    try {
      if (store.get().currentId === live.conversationId) {
        conversation = await api.getConversation(live.conversationId);
      }
    } catch {
      // keep what we have; the list refresh below may still work
    }
    if (seq !== sendSeq) return;
    const shown = conversation?.id === live.conversationId ? conversation.messages : null;
    const patch = unsavedPatch(live, shown, store.get().unsaved);
    store.set({ conversation, live: null, pendingUser: null, answerStats: stats, ...patch });
    await refreshList().catch(() => undefined);
  }

  async function send(text: string, images: StoredImage[], longestEdge?: number): Promise<boolean> {
    const s = store.get();
    if (s.live && !isFinished(s.live)) return false;
    if (!text.trim() && images.length === 0) return false;
    let id = s.currentId;
    try {
      if (!id) {
        const c = await api.createConversation();
        id = c.id;
        store.set({ currentId: id, conversation: c });
      }
    } catch (e) {
      store.set({ chatError: toApiError(e) });
      return false;
    }
    const seq = ++sendSeq;
    stopRequested = false;
    const now = Date.now();
    store.set({
      chatError: null,
      pendingUser: {
        id: "pending",
        role: "user",
        text,
        images,
        status: "complete",
        createdMs: now,
      },
      live: newLiveAnswer(id, now, expectedAnsweredBy(s.settings, s.status)),
    });
    let resolveTicket: (v: unknown) => void = () => undefined;
    const ticketSettled = new Promise((r) => (resolveTicket = r));
    let finishing = false;
    const onEvent = (e: Parameters<typeof applyStreamEvent>[1]) => {
      const next = updateLive(seq, (l) => applyStreamEvent(l, e, Date.now()));
      if (next && isFinished(next) && !finishing) {
        finishing = true;
        void finish(seq, ticketSettled);
      }
    };
    try {
      const ticket = await api.sendMessage(
        id,
        text,
        images.map((i) => ({ file: i.file, originalName: i.originalName, page: i.page ?? null })),
        generationSettings(s.settings, images.length > 0 ? longestEdge : undefined),
        onEvent,
      );
      updateLive(seq, (l) => ({
        ...l,
        generationId: ticket.generationId,
        userMessageId: ticket.userMessage.id,
        assistantMessageId: ticket.assistantMessageId,
      }));
      if (seq === sendSeq) store.set({ pendingUser: ticket.userMessage });
      resolveTicket(ticket);
      if (stopRequested) await api.cancelGeneration(ticket.generationId).catch(() => false);
      void refreshList().catch(() => undefined);
      return true;
    } catch (e) {
      resolveTicket(null);
      if (seq === sendSeq) store.set({ live: null, pendingUser: null, chatError: toApiError(e) });
      return false;
    }
  }

  async function stop(): Promise<void> {
    const live = store.get().live;
    if (live && !isFinished(live)) {
      if (live.generationId === null) {
        stopRequested = true;
        return;
      }
      await api.cancelGeneration(live.generationId).catch(() => false);
      return;
    }
    const gid = store.get().status?.generationId;
    if (gid !== null && gid !== undefined) await api.cancelGeneration(gid).catch(() => false);
  }

  async function resendFrom(message: StoredMessage, text: string, longestEdge?: number): Promise<boolean> {
    const s = store.get();
    if (!s.currentId || (s.live && !isFinished(s.live))) return false;
    try {
      const conversation = await api.truncateConversation(s.currentId, message.id);
      store.set({ conversation });
    } catch (e) {
      store.set({ chatError: toApiError(e) });
      return false;
    }
    return send(text, message.images, longestEdge);
  }

  async function regenerate(longestEdge?: number): Promise<boolean> {
    const msg = lastUserMessage(store.get().conversation?.messages ?? []);
    if (!msg) return false;
    return resendFrom(msg, msg.text, longestEdge);
  }

  async function editAndResend(messageId: string, text: string, longestEdge?: number): Promise<boolean> {
    const msg = store.get().conversation?.messages.find((m) => m.id === messageId);
    if (!msg || msg.role !== "user") return false;
    return resendFrom(msg, text, longestEdge);
  }

  async function rename(id: string, title: string): Promise<void> {
    const summary = await api.renameConversation(id, title);
    const s = store.get();
    store.set({
      conversations: s.conversations.map((c) => (c.id === id ? summary : c)),
      conversation: s.conversation?.id === id ? { ...s.conversation, title: summary.title } : s.conversation,
    });
  }

  async function remove(id: string): Promise<void> {
    await api.deleteConversation(id);
    const s = store.get();
    if (s.currentId === id) {
      store.set({ currentId: null, conversation: null, chatError: null });
    }
    await refreshList();
  }

  return { refreshList, open, newConversation, send, stop, regenerate, editAndResend, rename, remove };
}
