// The app's state in one place, and a tiny store: views subscribe and redraw the slices that
// changed (compared by reference, so always replace, never mutate).

import type {
  ApiError,
  AppInfo,
  CatalogModel,
  Conversation,
  ConversationSummary,
  DiskUsage,
  HubStatus,
  LocalModel,
  ModelStatus,
  Settings,
  StoredMessage,
} from "./api";
import type { DownloadState } from "./downloads";
import type { AnswerStats, LiveAnswer } from "./stream";

export interface AppState {
  info: AppInfo | null;
  status: ModelStatus | null;
  settings: Settings | null;
  conversations: ConversationSummary[];
  /** Whether the conversation list has been read once. */
  conversationsLoaded: boolean;
  currentId: string | null;
  conversation: Conversation | null;
  /** The question just sent, shown until the stored conversation has it. */
  pendingUser: StoredMessage | null;
  /** The answer being generated (or just finished, until the conversation is read again). */
  live: LiveAnswer | null;
  /** Final numbers of answers generated in this session, by message id. */
  answerStats: Record<string, AnswerStats>;
  /** Answers of this session whose save failed, by message id: the text the user saw (the
   * stored one may be shorter) and why it was not saved. */
  unsaved: Record<string, { text: string; error: ApiError }>;
  /** A failure to send, shown in the chat. */
  chatError: ApiError | null;
  catalog: CatalogModel[];
  localModels: LocalModel[];
  /** Whether catalog and local models have been read once (the first-run screen waits on it). */
  modelsLoaded: boolean;
  hub: HubStatus | null;
  disk: DiskUsage | null;
  downloads: Record<string, DownloadState>;
}

export function initialState(): AppState {
  return {
    info: null,
    status: null,
    settings: null,
    conversations: [],
    conversationsLoaded: false,
    currentId: null,
    conversation: null,
    pendingUser: null,
    live: null,
    answerStats: {},
    unsaved: {},
    chatError: null,
    catalog: [],
    localModels: [],
    modelsLoaded: false,
    hub: null,
    disk: null,
    downloads: {},
  };
}

export type Listener<S> = (state: S, prev: S) => void;

export interface Store<S> {
  get(): S;
  set(patch: Partial<S> | ((s: S) => Partial<S>)): void;
  subscribe(listener: Listener<S>): () => void;
}

export function createStore<S extends object>(initial: S): Store<S> {
  let state = initial;
  const listeners = new Set<Listener<S>>();
  return {
    get: () => state,
    set(patch) {
      const prev = state;
      const p = typeof patch === "function" ? patch(state) : patch;
      state = { ...state, ...p };
      for (const l of Array.from(listeners)) l(state, prev);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/** Calls `f` when any of the picked slices changed (by reference). */
export function watch<S, T extends readonly unknown[]>(
  store: Store<S>,
  pick: (s: S) => T,
  f: (s: S) => void,
): () => void {
  let last = pick(store.get());
  return store.subscribe((s) => {
    const next = pick(s);
    if (next.length !== last.length || next.some((v, i) => v !== last[i])) {
      last = next;
      f(s);
    }
  });
}

/** Is there a model that could be loaded, or one loaded? False means: show the first-run screen. */
export function hasAnyModel(s: AppState): boolean {
  if (s.status && (s.status.model !== null || s.status.state === "loading")) return true;
  if (s.localModels.length > 0) return true;
  return s.catalog.some((m) => m.installed);
}

export function isGenerating(s: AppState): boolean {
  if (s.live && (s.live.phase === "waiting" || s.live.phase === "encoding" ||
      s.live.phase === "prefill" || s.live.phase === "streaming")) return true;
  return s.status?.state === "generating";
}
