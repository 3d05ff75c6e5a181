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
  "import_image",
  "import_image_bytes",
  "image_cost",
  "rename_conversation",
  "truncate_conversation",
  "list_catalog",
  "download_model",
  "cancel_download",
  "delete_model",
  "models_disk_usage",
  "add_local_model",
  "list_local_models",
  "hub_status",
  "get_settings",
  "save_settings",
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
  /** The CPU kernels' instruction set; null on a GPU. */
  kernels: "amx" | "avx512" | "avx2" | "neon" | "scalar" | null;
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

/** Tiles and image tokens one image costs with the loaded model's processor. */
export interface ImageCost {
  /** The image's own size. */
  width: number;
  height: number;
  /** After the resize to the longest edge (a multiple of the tile size when split). */
  resizedWidth: number;
  resizedHeight: number;
  /** Tile grid (0 × 0 when the image is not split). */
  rows: number;
  cols: number;
  /** Frames the vision encoder sees: rows × cols tiles plus the global view (or 1). */
  frames: number;
  /** Image tokens in the prompt. */
  tokens: number;
  tileSize: number;
  defaultLongestEdge: number;
  maxLongestEdge: number;
}

export type ModelFormat = "safetensors" | "gguf";

export interface CatalogModel {
  id: string;
  repo: string;
  title: string;
  format: ModelFormat;
  quant?: string;
  downloadBytes: number;
  memoryBytes: number;
  tokensPerTile: number;
  tileSize: number;
  goodFor: string;
  isDefault: boolean;
  installed: boolean;
  installedPath?: string;
  /** Bytes of an interrupted download that `downloadModel` resumes. */
  partialBytes: number;
}

/** What one model download streams: started, progress* / file-done*, then done, cancelled or error. */
export type DownloadEvent =
  | { type: "started"; files: number; totalBytes: number }
  | {
      type: "progress";
      file: string;
      fileBytes: number;
      fileTotal: number;
      bytes: number;
      totalBytes: number;
      bytesPerS: number;
      etaS: number | null;
    }
  | { type: "file-done"; file: string }
  | { type: "done"; path: string }
  | { type: "cancelled" }
  | ({ type: "error" } & ApiError);

/** The app event `download-progress`: one catalog model's download event. */
export interface DownloadProgress {
  id: string;
  event: DownloadEvent;
}

export interface DownloadTicket {
  downloadId: string;
}

export interface DiskUsage {
  bytes: number;
  cacheDir: string;
}

export interface LocalModel {
  id: string;
  name: string;
  path: string;
  mmproj?: string;
}

export interface HubStatus {
  offline: boolean;
  endpoint: string;
}

export type DeviceChoice = "auto" | "cpu" | "cuda" | "metal";
export type Theme = "system" | "light" | "dark";

export interface Settings {
  temperature: number;
  topP: number;
  topK: number;
  maxNewTokens: number;
  repetitionPenalty: number;
  systemPrompt: string;
  /** 0 = automatic. Applied on the next model load. */
  threads: number;
  /** Applied on the next model load. */
  device: DeviceChoice;
  /** Default resolution: the longest image edge in tiles of the loaded model (N → N × tileSize
   * pixels, 1–16, clamped to the model's maximum); null = the model's default. Used by
   * `imageCost` and `sendMessage` when they are given no `longestEdge`. */
  longestEdgeTiles: number | null;
  theme: Theme;
  /** The model loaded last (folder or `.gguf` path); the backend sets it on every load. */
  lastModel: string | null;
}

function call<T>(cmd: CommandName, args?: Record<string, unknown>): Promise<T> {
  return invoke<T>(cmd, args).catch((e: unknown) => {
    throw toApiError(e);
  });
}

const IMAGE_EXTENSIONS = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"];

/** The native open dialog of tauri-plugin-dialog (what its JS package's `open` invokes; the
 * capability allows only `dialog:allow-open`). */
function openDialog(options: {
  multiple: boolean;
  directory: boolean;
  title?: string;
  filters?: { name: string; extensions: string[] }[] | undefined;
}): Promise<string | string[] | null> {
  return invoke<string | string[] | null>("plugin:dialog|open", { options }).catch(
    (e: unknown) => {
      throw toApiError(e);
    },
  );
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
  /** Validates an image file (exists, within the limits, decodes) and copies it into the image
   * store. The answer's `file` is the stored copy's absolute path (for `convertFileSrc` and as a
   * `sendMessage` image); stored messages keep `file` relative to `AppInfo.imagesDir`. Rejects
   * with `not_found`, `not_an_image`, `image_too_large` or `invalid_input`. */
  importImage: (path: string) => call<StoredImage>("import_image", { path }),
  /** Stores pasted image data (the raw bytes travel as the request body, the name in the
   * `x-name` header, percent-encoded); answers as `importImage`. */
  importImageBytes: (bytes: Uint8Array, name: string) =>
    invoke<StoredImage>("import_image_bytes", bytes, {
      headers: { "x-name": encodeURIComponent(name) },
    }).catch(
      (e: unknown) => {
        throw toApiError(e);
      },
    ),
  /** Tiles and tokens the image costs with the loaded model (`longestEdge` in pixels, clamped to
   * `[tileSize, maxLongestEdge]`; default: Settings.longestEdgeTiles, else the model's). Rejects
   * with `no_model_loaded` when no model is loaded, `no_vision_encoder` for a text-only model. */
  imageCost: (path: string, longestEdge?: number) =>
    call<ImageCost>("image_cost", { path, longestEdge: longestEdge ?? null }),
  renameConversation: (id: string, title: string) =>
    call<ConversationSummary>("rename_conversation", { id, title }),
  /** Drops message `messageId` and every message after it. */
  truncateConversation: (id: string, messageId: string) =>
    call<Conversation>("truncate_conversation", { id, messageId }),
  listCatalog: () => call<CatalogModel[]>("list_catalog"),
  /** Starts (or resumes) downloading catalog model `id`; progress streams to `onEvent` (and to
   * every window as `download-progress`). `done.path` is what `loadModel` takes. Rejects with
   * `download_in_progress` while the same model downloads. */
  downloadModel: (id: string, onEvent: (event: DownloadEvent) => void) => {
    const channel = new Channel<DownloadEvent>();
    channel.onmessage = onEvent;
    return call<DownloadTicket>("download_model", { id, onEvent: channel });
  },
  /** Stops a download, keeping the partial. Resolves false when none was running. */
  cancelDownload: (id: string) => call<boolean>("cancel_download", { id }),
  /** Removes a catalog model's files (`model_in_use` for the loaded one), or forgets a local
   * model (`local-…` ids; its files stay). */
  deleteModel: (id: string) => call<null>("delete_model", { id }),
  modelsDiskUsage: () => call<DiskUsage>("models_disk_usage"),
  /** Remembers a `.gguf` file (its `mmproj*.gguf` found beside it) or a model folder, and loads
   * it; resolves once it is loaded. Rejects with `not_a_model` for anything else. */
  addLocalModel: (path: string) => call<LocalModel>("add_local_model", { path }),
  listLocalModels: () => call<LocalModel[]>("list_local_models"),
  hubStatus: () => call<HubStatus>("hub_status"),
  getSettings: () => call<Settings>("get_settings"),
  /** Saves the settings (all, or only the keys given) and resolves to them as saved. */
  saveSettings: (settings: Partial<Settings>) => call<Settings>("save_settings", { settings }),
  /** Native file picker for images; resolves to the chosen paths ([] when cancelled). */
  pickImages: async (): Promise<string[]> => {
    const picked = await openDialog({
      multiple: true,
      directory: false,
      title: "Attach images",
      filters: [{ name: "Images", extensions: IMAGE_EXTENSIONS }],
    });
    if (picked === null) return [];
    return Array.isArray(picked) ? picked : [picked];
  },
  /** Native picker for a `.gguf` model file (or, with `directory`, a model folder); null when
   * cancelled. */
  pickModel: async (directory = false): Promise<string | null> => {
    const picked = await openDialog({
      multiple: false,
      directory,
      title: directory ? "Choose a model folder" : "Choose a GGUF model",
      filters: directory ? undefined : [{ name: "GGUF model", extensions: ["gguf"] }],
    });
    return typeof picked === "string" ? picked : null;
  },
  /** Model status changes, as every window sees them. */
  onModelStatus: (f: (status: ModelStatus) => void): Promise<UnlistenFn> =>
    listen<ModelStatus>("model-status", (e) => f(e.payload)),
  /** Model download progress, as every window sees it. */
  onDownloadProgress: (f: (progress: DownloadProgress) => void): Promise<UnlistenFn> =>
    listen<DownloadProgress>("download-progress", (e) => f(e.payload)),
};
