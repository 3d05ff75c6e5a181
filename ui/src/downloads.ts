// Model download progress as state, and the reducer over DownloadEvents. Pure.

import type { ApiError, DownloadEvent } from "./api";

export type DownloadPhase = "starting" | "downloading" | "done" | "cancelled" | "error";

export interface DownloadState {
  phase: DownloadPhase;
  files: number;
  filesDone: number;
  file: string | null;
  fileBytes: number;
  fileTotal: number;
  bytes: number;
  totalBytes: number;
  bytesPerS: number;
  etaS: number | null;
  path: string | null;
  error: ApiError | null;
}

export function newDownload(): DownloadState {
  return {
    phase: "starting",
    files: 0,
    filesDone: 0,
    file: null,
    fileBytes: 0,
    fileTotal: 0,
    bytes: 0,
    totalBytes: 0,
    bytesPerS: 0,
    etaS: null,
    path: null,
    error: null,
  };
}

export function isActive(d: DownloadState | undefined): boolean {
  return d !== undefined && (d.phase === "starting" || d.phase === "downloading");
}

/** Applies one event. Progress carries absolute numbers, so applying an event twice is harmless. */
export function applyDownloadEvent(d: DownloadState | undefined, e: DownloadEvent): DownloadState {
  const s = d ?? newDownload();
  switch (e.type) {
    case "started":
      return { ...newDownload(), phase: "downloading", files: e.files, totalBytes: e.totalBytes };
    case "progress":
      return {
        ...s,
        phase: "downloading",
        file: e.file,
        fileBytes: e.fileBytes,
        fileTotal: e.fileTotal,
        bytes: e.bytes,
        totalBytes: e.totalBytes,
        bytesPerS: e.bytesPerS,
        etaS: e.etaS,
        error: null,
      };
    case "file-done":
      return { ...s, filesDone: Math.min(s.files || Infinity, s.filesDone + 1), file: e.file };
    case "done":
      return { ...s, phase: "done", path: e.path, bytes: s.totalBytes || s.bytes, etaS: 0 };
    case "cancelled":
      return { ...s, phase: "cancelled", bytesPerS: 0, etaS: null };
    case "error":
      return { ...s, phase: "error", error: { code: e.code, message: e.message }, bytesPerS: 0, etaS: null };
  }
}
