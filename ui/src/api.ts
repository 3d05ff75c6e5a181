// The one typed wrapper over the backend's commands (src-tauri/src/commands.rs). Every call to
// the backend goes through here. The Rust test `command_list_is_pinned` checks that COMMANDS below
// equals the backend's list, and `stream_event_json_is_pinned` pins the StreamEvent JSON mirrored
// by the types here.

import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export const COMMANDS = [
  "app_info",
  "model_status",
  "load_model",
  "unload_model",
  "list_conversations",
  "create_conversation",
  "get_conversation",
  "delete_conversation",
  "send_message",
  "cancel_generation",
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** Every backend error: a stable `code` to branch on and a `message` for people. */
export interface ApiError {
  code: string;
  message: string;
}

export function isApiError(e: unknown): e is ApiError {
  return (
    typeof e === "object" &&
    e !== null &&
    typeof (e as ApiError).code === "string" &&
    typeof (e as ApiError).message === "string"
  );
}

/** Any thrown value as an ApiError (IPC failures arrive as plain strings). */
export function toApiError(e: unknown): ApiError {
  if (isApiError(e)) return e;
  return { code: "ipc", message: String(e) };
}

export interface AppInfo {
  version: string;
  dataDir: string;
  imagesDir: string;
  maxImagesPerMessage: number;
  maxImageFileBytes: number;
  maxTextChars: number;
}

export interface ModelInfo {
  path: string;
  name: string;
  device: "cpu" | "cuda" | "metal";
  hasVision: boolean;
  contextLength: number;
  loadS: number;
}

export type ModelState = "empty" | "loading" | "ready" | "generating";

export interface ModelStatus {
  state: ModelState;
  model: ModelInfo | null;
  loading: string | null;
  generationId: number | null;
  restarts: number;
  lastError: ApiError | null;
}

export type MessageStatus = "complete" | "streaming" | "interrupted" | "cancelled" | "error";

export interface StoredImage {
  sha256: string;
  file: string;
  originalName: string;
  width: number;
  height: number;
}

export interface StoredMessage {
  id: string;
  role: "system" | "user" | "assistant";
  text: string;
  images: StoredImage[];
  status: MessageStatus;
  createdMs: number;
  error?: ApiError;
  generatedTokens?: number;
}

export interface Conversation {
  schemaVersion: number;
  id: string;
  title: string;
  createdMs: number;
  updatedMs: number;
  messages: StoredMessage[];
}

export interface ConversationSummary {
  id: string;
  title: string;
  updatedMs: number;
  messages: number;
}

export interface GenerationSettings {
  maxNewTokens?: number;
  temperature?: number;
  topK?: number;
  topP?: number;
  repetitionPenalty?: number;
  seed?: number;
  ignoreEos?: boolean;
  longestEdge?: number;
}

export type StopReason = "eos" | "length" | "cancelled";

export interface DoneTimings {
  visionS: number;
  prefillS: number;
  decodeS: number;
  decodeTokensPerS: number;
  firstTokenS: number | null;
  totalS: number;
}

/** What one answer streams, in order: started, image-progress*, token*, then done or error. */
export type StreamEvent =
  | {
      type: "started";
      generationId: number;
      promptTokens: number;
      imageTokens: number;
      frames: number;
      reusedTokens: number;
    }
  | { type: "image-progress"; framesDone: number; framesTotal: number }
  | { type: "token"; text: string; count: number }
  | {
      type: "done";
      stopReason: StopReason;
      generatedTokens: number;
      promptTokens: number;
      imageTokens: number;
      timings: DoneTimings;
    }
  | ({ type: "error" } & ApiError);

export interface SendTicket {
  generationId: number;
  userMessage: StoredMessage;
  assistantMessageId: string;
}

function call<T>(cmd: CommandName, args?: Record<string, unknown>): Promise<T> {
  return invoke<T>(cmd, args).catch((e: unknown) => {
    throw toApiError(e);
  });
}

export const api = {
  appInfo: () => call<AppInfo>("app_info"),
  modelStatus: () => call<ModelStatus>("model_status"),
  loadModel: (path: string) => call<ModelInfo>("load_model", { path }),
  unloadModel: () => call<null>("unload_model"),
  listConversations: () => call<ConversationSummary[]>("list_conversations"),
  createConversation: (title?: string) =>
    call<Conversation>("create_conversation", { title: title ?? null }),
  getConversation: (id: string) => call<Conversation>("get_conversation", { id }),
  deleteConversation: (id: string) => call<null>("delete_conversation", { id }),
  /** Sends a question; the answer streams to `onEvent`. Rejects with code `busy` while another
   * answer is being generated. */
  sendMessage: (
    conversationId: string,
    text: string,
    images: string[],
    settings: GenerationSettings | null,
    onEvent: (event: StreamEvent) => void,
  ) => {
    const channel = new Channel<StreamEvent>();
    channel.onmessage = onEvent;
    return call<SendTicket>("send_message", {
      conversationId,
      text,
      images,
      settings,
      onEvent: channel,
    });
  },
  cancelGeneration: (generationId: number) =>
    call<boolean>("cancel_generation", { generationId }),
  /** Model status changes, as every window sees them. */
  onModelStatus: (f: (status: ModelStatus) => void): Promise<UnlistenFn> =>
    listen<ModelStatus>("model-status", (e) => f(e.payload)),
};
