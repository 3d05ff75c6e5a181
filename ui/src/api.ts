// The UI's one way to the backend: a thin layer over the bindings generated from the Rust
// commands and types (./bindings.ts, by tauri-specta; regenerate with
// `UPDATE_BINDINGS=1 cargo test -p smolvlm-desktop -- bindings`). It turns every rejection into an
// ApiError, builds the channels that answers and downloads stream over, and adds what the bindings
// cannot: pasted image and PDF bytes (a raw request body) and the app events. The open dialog runs
// in the backend (`pickFiles`): only what the user drops or picks there can be read by the other
// commands (they reject anything else with `path_not_allowed`).

import { Channel, invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import {
  commands,
  type AppInfo_Serialize,
  type CatalogModel_Serialize,
  type Connection_Serialize,
  type Conversation_Serialize,
  type DevicePreference,
  type DoneTimings_Serialize,
  type DownloadEvent_Serialize,
  type DownloadProgress_Serialize,
  type ErrorPayload,
  type GenerationSettings_Deserialize,
  type LocalApiSettings_Serialize,
  type LocalApiStatus_Serialize,
  type LocalModel_Serialize,
  type ModelInfo_Serialize,
  type ModelStatus_Serialize,
  type OutgoingImage_Deserialize,
  type PdfInfo,
  type SendTicket_Serialize,
  type SettingsPatch_Deserialize,
  type Settings_Serialize,
  type StoredImage_Serialize,
  type StoredMessage_Serialize,
  type StreamEvent_Serialize,
} from "./bindings";

export type {
  AboutInfo,
  BackendInfo,
  ConversationSummary,
  DiskUsage,
  DownloadTicket,
  HubStatus,
  ImageCost,
  MessageStatus,
  ModelFormat,
  ModelState,
  PdfCosts,
  PdfInfo,
  PdfPageRef,
  PdfPageSize,
  PresetEdges,
  Resolution,
  StopReason,
  Theme,
} from "./bindings";

// The bindings type each value in the form it has going into Rust (`_Deserialize`, where optional
// keys may be left out) and coming out of it (`_Serialize`); the UI's names are these.
/** What `appInfo` answers; `readOnly` is set when this window cannot change the conversations. */
export type AppInfo = AppInfo_Serialize;
export type CatalogModel = CatalogModel_Serialize;
/** An OpenAI-compatible server the chat can answer with (`Settings.connections`). */
export type Connection = Connection_Serialize;
export type Conversation = Conversation_Serialize;
export type DoneTimings = DoneTimings_Serialize;
export type DownloadEvent = DownloadEvent_Serialize;
/** The app event `download-progress`: one catalog model's download event. */
export type DownloadProgress = DownloadProgress_Serialize;
export type GenerationSettings = GenerationSettings_Deserialize;
/** The app's own OpenAI-compatible server (`Settings.localApi`). */
export type LocalApiSettings = LocalApiSettings_Serialize;
/** Whether the local API serves, where, and why not. */
export type LocalApiStatus = LocalApiStatus_Serialize;
export type LocalModel = LocalModel_Serialize;
export type ModelInfo = ModelInfo_Serialize;
export type ModelStatus = ModelStatus_Serialize;
/** An image of a message being sent: a path, or a stored image with its name and PDF page. */
export type OutgoingImage = OutgoingImage_Deserialize;
export type SendTicket = SendTicket_Serialize;
export type Settings = Settings_Serialize;
/** Some or all of the settings, as `saveSettings` takes them. */
export type SettingsPatch = SettingsPatch_Deserialize;
export type StoredImage = StoredImage_Serialize;
export type StoredMessage = StoredMessage_Serialize;
/** What one answer streams, in order: started, image-progress*, token*, then done or error. */
export type StreamEvent = StreamEvent_Serialize;

/** Every backend error: a stable `code` to branch on and a `message` for people. */
export type ApiError = ErrorPayload;
export type DeviceChoice = DevicePreference;

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

/** `p`, rejecting with an ApiError. */
function call<T>(p: Promise<T>): Promise<T> {
  return p.catch((e: unknown) => {
    throw toApiError(e);
  });
}

/** A channel delivering every message to `f`. Its messages come out of Rust (`T`, a `_Serialize`
 * type), though the bindings name a channel argument's messages in their `_Deserialize` form
 * (`W`), which differs only in that optional keys may be left out. */
function channel<T, W>(f: (message: T) => void): Channel<W> {
  const ch = new Channel<T>();
  ch.onmessage = f;
  return ch as unknown as Channel<W>;
}

export const api = {
  appInfo: () => call(commands.appInfo()),
  modelStatus: () => call(commands.modelStatus()),
  devices: () => call(commands.devices()),
  loadModel: (path: string) => call(commands.loadModel(path)),
  unloadModel: () => call(commands.unloadModel()),
  listConversations: () => call(commands.listConversations()),
  createConversation: (title?: string) => call(commands.createConversation(title ?? null)),
  getConversation: (id: string) => call(commands.getConversation(id)),
  deleteConversation: (id: string) => call(commands.deleteConversation(id)),
  /** Sends a question; the answer streams to `onEvent`. Rejects with code `busy` while another
   * answer is being generated. */
  sendMessage: (
    conversationId: string,
    text: string,
    images: OutgoingImage[],
    settings: GenerationSettings | null,
    onEvent: (event: StreamEvent) => void,
  ) => call(commands.sendMessage(conversationId, text, images, settings, channel(onEvent))),
  cancelGeneration: (generationId: number) => call(commands.cancelGeneration(generationId)),
  /** Validates an image file (exists, within the limits, decodes) and copies it into the image
   * store. The answer's `file` is the stored copy's absolute path (for `convertFileSrc` and as a
   * `sendMessage` image); stored messages keep `file` relative to `AppInfo.imagesDir`. Rejects
   * with `not_found`, `not_an_image`, `image_too_large` or `invalid_input`. */
  importImage: (path: string) => call(commands.importImage(path)),
  /** The composer no longer shows an image it imported (`file` of `importImage`'s answer): the
   * store may collect it. */
  discardImage: (file: string) => call(commands.discardImage(file)),
  /** Stores pasted image data (the raw bytes travel as the request body, the name in the
   * `x-name` header, percent-encoded); answers as `importImage`. Not in the bindings: its input
   * is the raw body. */
  importImageBytes: (bytes: Uint8Array, name: string) =>
    call(
      invoke<StoredImage>("import_image_bytes", bytes, {
        headers: { "x-name": encodeURIComponent(name) },
      }),
    ),
  /** Opens a PDF for choosing its pages: its page count and sizes. Rejects with `pdf_*` codes
   * (`pdf_encrypted`, `pdf_broken`, `pdf_too_many_pages`, …) that name the limit. */
  openPdf: (path: string) => call(commands.openPdf(path)),
  /** Opens pasted PDF data (raw body, name in `x-name`); answers as `openPdf`. */
  openPdfBytes: (bytes: Uint8Array, name: string) =>
    call(
      invoke<PdfInfo>("open_pdf_bytes", bytes, {
        headers: { "x-name": encodeURIComponent(name) },
      }),
    ),
  /** Each page's tiles and tokens at `longestEdge` (default: the document preset). */
  pdfPageCosts: (id: string, longestEdge?: number) =>
    call(commands.pdfPageCosts(id, longestEdge ?? null)),
  /** A page (from 1) as a small PNG data URL. */
  pdfThumbnail: (id: string, page: number) => call(commands.pdfThumbnail(id, page)),
  /** Renders a page into the image store at `longestEdge` (default: the document preset). */
  importPdfPage: (id: string, page: number, longestEdge?: number) =>
    call(commands.importPdfPage(id, page, longestEdge ?? null)),
  /** Stops the page render running for the PDF; it rejects with `cancelled`. */
  cancelPdfRender: (id: string) => call(commands.cancelPdfRender(id)),
  closePdf: (id: string) => call(commands.closePdf(id)),
  /** Tiles and tokens the image costs with the loaded model (`longestEdge` in pixels, clamped to
   * `[tileSize, maxLongestEdge]`; default: the Settings.resolution preset). Rejects
   * with `no_model_loaded` when no model is loaded, `no_vision_encoder` for a text-only model. */
  imageCost: (path: string, longestEdge?: number) =>
    call(commands.imageCost(path, longestEdge ?? null)),
  renameConversation: (id: string, title: string) =>
    call(commands.renameConversation(id, title)),
  /** Drops message `messageId` and every message after it. */
  truncateConversation: (id: string, messageId: string) =>
    call(commands.truncateConversation(id, messageId)),
  listCatalog: () => call(commands.listCatalog()),
  /** Starts (or resumes) downloading catalog model `id`; progress streams to `onEvent` (and to
   * every window as `download-progress`). `done.path` is what `loadModel` takes. Rejects with
   * `download_in_progress` while the same model downloads. */
  downloadModel: (id: string, onEvent: (event: DownloadEvent) => void) =>
    call(commands.downloadModel(id, channel(onEvent))),
  /** Stops a download, keeping the partial. Resolves false when none was running. */
  cancelDownload: (id: string) => call(commands.cancelDownload(id)),
  /** Removes a catalog model's files (`model_in_use` for the loaded one), or forgets a local
   * model (`local-…` ids; its files stay). */
  deleteModel: (id: string) => call(commands.deleteModel(id)),
  modelsDiskUsage: () => call(commands.modelsDiskUsage()),
  /** Remembers a `.gguf` file (its `mmproj*.gguf` found beside it) or a model folder, and loads
   * it; resolves once it is loaded. Rejects with `not_a_model` for anything else. */
  addLocalModel: (path: string) => call(commands.addLocalModel(path)),
  listLocalModels: () => call(commands.listLocalModels()),
  hubStatus: () => call(commands.hubStatus()),
  getSettings: () => call(commands.getSettings()),
  /** Saves the settings (all, or only the keys given) and resolves to them as saved; the local
   * API starts, restarts or stops to match. Rejects with `invalid_input` (a bad host, port,
   * connection or `backend`). */
  saveSettings: (settings: SettingsPatch) => call(commands.saveSettings(settings)),
  /** Whether the local API is serving (`url`), or why not although enabled (`error`, e.g.
   * `addr_in_use`). */
  localApiStatus: () => call(commands.localApiStatus()),
  /** Native file picker for images and PDFs; resolves to the chosen paths ([] when cancelled). */
  pickImages: (): Promise<string[]> => call(commands.pickFiles("attachments")),
  /** Native picker for a `.gguf` model file (or, with `directory`, a model folder); null when
   * cancelled. */
  pickModel: async (directory = false): Promise<string | null> => {
    const picked = await call(commands.pickFiles(directory ? "model-folder" : "model-file"));
    return picked[0] ?? null;
  },
  /** Model status changes, as every window sees them. */
  onModelStatus: (f: (status: ModelStatus) => void): Promise<UnlistenFn> =>
    listen<ModelStatus>("model-status", (e) => f(e.payload)),
  /** The version, CPU kernels, device backends and the app's folders (Settings → About). */
  about: () => call(commands.about()),
  /** The images and PDFs the app was opened with ("Open with", a later launch's files) that were
   * not taken yet; taking clears them. They are readable as dropped files are. */
  takeOpenedFiles: () => call(commands.takeOpenedFiles()),
  /** Files were opened with the app while it runs: take them with `takeOpenedFiles`. */
  onFilesOpened: (f: () => void): Promise<UnlistenFn> => listen("files-opened", () => f()),
  /** Model download progress, as every window sees it. */
  onDownloadProgress: (f: (progress: DownloadProgress) => void): Promise<UnlistenFn> =>
    listen<DownloadProgress>("download-progress", (e) => f(e.payload)),
};
