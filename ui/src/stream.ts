// The streaming answer as state, and the reducer that applies the backend's StreamEvents to it.
// Pure: the clock is passed in.

import type { ApiError, StopReason, StoredMessage, StreamEvent } from "./api";

export type LivePhase = "waiting" | "encoding" | "prefill" | "streaming" | "complete" | "cancelled" | "error";

export interface AnswerStats {
  generatedTokens: number;
  tokPerS: number | null;
  ttftS: number | null;
  stopReason: StopReason | null;
  promptTokens: number;
  imageTokens: number;
  totalS: number | null;
  /** Seconds in the vision tower and in the prompt's prefill (0 for a connection's answer). */
  visionS: number;
  prefillS: number;
}

export interface LiveAnswer {
  conversationId: string;
  generationId: number | null;
  /** The stored ids, once send_message answered. */
  userMessageId: string | null;
  assistantMessageId: string | null;
  phase: LivePhase;
  text: string;
  promptTokens: number;
  imageTokens: number;
  reusedTokens: number;
  framesDone: number;
  framesTotal: number;
  tokens: number;
  /** Local clock (ms) when the question was sent, the first token and the latest one arrived. */
  sentMs: number;
  firstTokenMs: number | null;
  lastTokenMs: number | null;
  /** Final numbers, from `done`. */
  stats: AnswerStats | null;
  error: ApiError | null;
  /** Saving the answer failed (`save-failed`): what is shown is not what is stored. */
  saveError: ApiError | null;
  /** Who answers (the local model's name, or a connection's), as it will be stored. */
  answeredBy: string | null;
}

export function newLiveAnswer(conversationId: string, nowMs: number, answeredBy: string | null = null): LiveAnswer {
  return {
    conversationId,
    generationId: null,
    userMessageId: null,
    assistantMessageId: null,
    phase: "waiting",
    text: "",
    promptTokens: 0,
    imageTokens: 0,
    reusedTokens: 0,
    framesDone: 0,
    framesTotal: 0,
    tokens: 0,
    sentMs: nowMs,
    firstTokenMs: null,
    lastTokenMs: null,
    stats: null,
    error: null,
    saveError: null,
    answeredBy,
  };
}

export function isFinished(a: LiveAnswer): boolean {
  return a.phase === "complete" || a.phase === "cancelled" || a.phase === "error";
}

/** Applies one event; returns a new state (the old one is not changed). Events after the end are
 * ignored. */
export function applyStreamEvent(s: LiveAnswer, e: StreamEvent, nowMs: number): LiveAnswer {
  if (isFinished(s)) return s;
  switch (e.type) {
    case "started":
      return {
        ...s,
        generationId: e.generationId,
        promptTokens: e.promptTokens,
        imageTokens: e.imageTokens,
        reusedTokens: e.reusedTokens,
        framesTotal: e.frames,
        phase: e.frames > 0 ? "encoding" : "prefill",
      };
    case "image-progress":
      return {
        ...s,
        framesDone: e.framesDone,
        framesTotal: e.framesTotal,
        phase: e.framesDone >= e.framesTotal ? "prefill" : "encoding",
      };
    case "token":
      return {
        ...s,
        text: s.text + e.text,
        tokens: s.tokens + e.count,
        firstTokenMs: s.firstTokenMs ?? nowMs,
        lastTokenMs: nowMs,
        phase: "streaming",
      };
    case "done": {
      const t = e.timings;
      return {
        ...s,
        phase: e.stopReason === "cancelled" ? "cancelled" : "complete",
        promptTokens: e.promptTokens,
        imageTokens: e.imageTokens,
        stats: {
          generatedTokens: e.generatedTokens,
          tokPerS: t.decodeTokensPerS > 0 ? t.decodeTokensPerS : liveTokPerS(s, nowMs),
          ttftS: t.firstTokenS ?? localTtftS(s),
          stopReason: e.stopReason,
          promptTokens: e.promptTokens,
          imageTokens: e.imageTokens,
          totalS: t.totalS,
          visionS: t.visionS,
          prefillS: t.prefillS,
        },
      };
    }
    case "error":
      return { ...s, phase: "error", error: { code: e.code, message: e.message } };
    case "save-failed":
      return { ...s, saveError: { code: e.code, message: e.message } };
  }
}

/** A stored answer's numbers, from the timings saved with it (answers saved before timings were
 * kept have none). */
export function storedStats(m: StoredMessage): AnswerStats | null {
  const t = m.timings;
  if (!t) return null;
  return {
    generatedTokens: m.generatedTokens ?? 0,
    tokPerS: t.decodeTokensPerS > 0 ? t.decodeTokensPerS : null,
    ttftS: t.firstTokenS,
    stopReason: null,
    promptTokens: 0,
    imageTokens: 0,
    totalS: t.totalS,
    visionS: t.visionS,
    prefillS: t.prefillS,
  };
}

/** Tokens per second while streaming, measured from the first token (which ends the prefill). */
export function liveTokPerS(s: LiveAnswer, nowMs: number): number | null {
  if (s.firstTokenMs === null || s.tokens < 2) return null;
  const end = isFinished(s) ? (s.lastTokenMs ?? nowMs) : nowMs;
  const elapsedS = (end - s.firstTokenMs) / 1000;
  if (elapsedS <= 0.05) return null;
  return (s.tokens - 1) / elapsedS;
}

/** Time to first token by the local clock, from send to the first `token` event. */
export function localTtftS(s: LiveAnswer): number | null {
  return s.firstTokenMs === null ? null : (s.firstTokenMs - s.sentMs) / 1000;
}

/** The numbers to show now: the final ones when done, else live estimates. */
export function currentStats(s: LiveAnswer, nowMs: number): { tokPerS: number | null; ttftS: number | null } {
  if (s.stats) return { tokPerS: s.stats.tokPerS, ttftS: s.stats.ttftS };
  return { tokPerS: liveTokPerS(s, nowMs), ttftS: localTtftS(s) };
}

/** A short line for what the answer is doing right now. */
export function phaseLabel(s: LiveAnswer): string {
  switch (s.phase) {
    case "waiting":
      return "Waiting for the model…";
    case "encoding":
      return s.framesTotal > 0
        ? `Encoding image: ${s.framesDone} of ${s.framesTotal} frames`
        : "Encoding image…";
    case "prefill":
      return "Reading the prompt…";
    case "streaming":
      return "Answering…";
    case "complete":
      return "Done";
    case "cancelled":
      return "Stopped";
    case "error":
      return "Failed";
  }
}
