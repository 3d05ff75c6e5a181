// Pure formatting helpers: sizes, rates, durations, speeds, dates. No DOM, no Tauri.

import type { ModelInfo } from "./api";

const UNITS = ["B", "KB", "MB", "GB", "TB"] as const;

/** Where a model runs, for people: "CPU · AVX-512 · 4 threads", "CUDA", "Metal". The thread
 * count is the one the engine uses (the Threads setting, or the physical cores when automatic). */
export function deviceLabel(m: Pick<ModelInfo, "device" | "kernels" | "threads">): string {
  const device = { cpu: "CPU", cuda: "CUDA", metal: "Metal" }[m.device] ?? m.device;
  if (!m.kernels) return device;
  const kernels = { amx: "AMX", avx512: "AVX-512", avx2: "AVX2", neon: "NEON", scalar: "portable" }[m.kernels];
  const threads = m.threads === 1 ? "1 thread" : `${m.threads} threads`;
  return `${device} · ${kernels ?? m.kernels} · ${threads}`;
}

/** Bytes in decimal units as the Hugging Face hub shows them: "0 B", "980 KB", "1.21 GB". */

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** A transfer rate: "12.3 MB/s". */
export function formatRate(bytesPerS: number): string {
  if (!Number.isFinite(bytesPerS) || bytesPerS <= 0) return "—";
  return `${formatBytes(bytesPerS)}/s`;
}

/** Time left, short: "45 s", "3 min 05 s", "1 h 02 min"; "—" when unknown. */
export function formatEta(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "—";
  }
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const hours = Math.floor(m / 60);
  return `${hours} h ${String(m % 60).padStart(2, "0")} min`;
}

/** A duration in seconds with sensible precision: "0.42 s", "3.1 s", "42 s". */
export function formatSeconds(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    return "—";
  }
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 100) return `${seconds.toFixed(1)} s`;
  return formatEta(seconds);
}

/** Decode speed: "23.4 tok/s"; "—" when unknown. */
export function formatTokPerS(tokPerS: number | null | undefined): string {
  if (tokPerS === null || tokPerS === undefined || !Number.isFinite(tokPerS) || tokPerS <= 0) {
    return "— tok/s";
  }
  const digits = tokPerS >= 100 ? 0 : 1;
  return `${tokPerS.toFixed(digits)} tok/s`;
}

/** Whole numbers with thousands separators: 1,088. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Percent of done over total, 0..100, safe for zero totals. */
export function percent(done: number, total: number): number {
  if (!Number.isFinite(done) || !Number.isFinite(total) || total <= 0) return 0;
  return Math.max(0, Math.min(100, (done / total) * 100));
}

const DAY_MS = 24 * 60 * 60 * 1000;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** The sidebar's group for a conversation updated at `ms`, relative to `nowMs`. */
export function dateGroup(ms: number, nowMs: number): string {
  const today = startOfDay(nowMs);
  if (ms >= today) return "Today";
  if (ms >= today - DAY_MS) return "Yesterday";
  if (ms >= today - 7 * DAY_MS) return "Previous 7 days";
  if (ms >= today - 30 * DAY_MS) return "Previous 30 days";
  return "Older";
}

/** "just now", "5 min ago", "3 h ago", else a short date. */
export function relativeTime(ms: number, nowMs: number): string {
  const diff = Math.max(0, nowMs - ms);
  if (diff < 60_000) return "just now";
  if (diff < 3_600_000) return `${Math.floor(diff / 60_000)} min ago`;
  if (diff < DAY_MS) return `${Math.floor(diff / 3_600_000)} h ago`;
  return new Date(ms).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

/** A conversation title from its first question, as the backend makes it (first line, 60 chars). */
export function titleFrom(text: string): string {
  const line = (text.split("\n")[0] ?? "").trim();
  const chars = Array.from(line);
  if (chars.length === 0) return "Image question";
  return chars.length > 60 ? `${chars.slice(0, 60).join("")}…` : line;
}

/** The last path component, for either separator. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, "");
  const i = Math.max(trimmed.lastIndexOf("/"), trimmed.lastIndexOf("\\"));
  return i >= 0 ? trimmed.slice(i + 1) : trimmed;
}
