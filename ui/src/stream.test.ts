import { describe, expect, it } from "vitest";
import type { StreamEvent } from "./api";
import { applyStreamEvent, currentStats, isFinished, liveTokPerS, newLiveAnswer, phaseLabel, storedStats, type LiveAnswer } from "./stream";

function run(events: [StreamEvent, number][], start = 1000): LiveAnswer {
  return events.reduce((s, [e, t]) => applyStreamEvent(s, e, t), newLiveAnswer("c1", start));
}

const started: StreamEvent = { type: "started", generationId: 7, promptTokens: 900, imageTokens: 832, frames: 13, reusedTokens: 0 };

describe("stream reducer", () => {
  it("starts waiting", () => {
    const s = newLiveAnswer("c1", 0);
    expect(s.phase).toBe("waiting");
    expect(s.text).toBe("");
    expect(isFinished(s)).toBe(false);
  });

  it("records the prompt and encodes images", () => {
    const s = run([[started, 1100], [{ type: "image-progress", framesDone: 4, framesTotal: 13 }, 1200]]);
    expect(s.generationId).toBe(7);
    expect(s.promptTokens).toBe(900);
    expect(s.phase).toBe("encoding");
    expect(s.framesDone).toBe(4);
    expect(phaseLabel(s)).toContain("4 of 13");
    const after = applyStreamEvent(s, { type: "image-progress", framesDone: 13, framesTotal: 13 }, 1300);
    expect(after.phase).toBe("prefill");
  });

  it("appends tokens in order and counts them", () => {
    const s = run([
      [started, 1100],
      [{ type: "token", text: "The ", count: 1 }, 2000],
      [{ type: "token", text: "cat ", count: 2 }, 2100],
      [{ type: "token", text: "sleeps.", count: 3 }, 2500],
    ]);
    expect(s.text).toBe("The cat sleeps.");
    expect(s.tokens).toBe(6);
    expect(s.phase).toBe("streaming");
    expect(s.firstTokenMs).toBe(2000);
    expect(s.lastTokenMs).toBe(2500);
  });

  it("does not change the previous state", () => {
    const a = run([[started, 1100]]);
    const b = applyStreamEvent(a, { type: "token", text: "x", count: 1 }, 1200);
    expect(a.text).toBe("");
    expect(b.text).toBe("x");
  });

  it("measures live tok/s and time to first token", () => {
    const s = run([
      [{ type: "token", text: "a", count: 1 }, 1500],
      [{ type: "token", text: "b", count: 10 }, 2500],
    ]);
    // 10 tokens after the first, in 1 s
    expect(liveTokPerS(s, 2500)).toBeCloseTo(10, 5);
    expect(currentStats(s, 2500).ttftS).toBeCloseTo(0.5, 5);
    expect(liveTokPerS(newLiveAnswer("c", 0), 100)).toBeNull();
  });

  it("done sets the final stats from the backend's timings", () => {
    const s = run([
      [started, 1100],
      [{ type: "token", text: "Hi", count: 1 }, 1400],
      [{
        type: "done", stopReason: "eos", generatedTokens: 42, promptTokens: 900, imageTokens: 832,
        timings: { visionS: 1.5, prefillS: 0.5, decodeS: 2, decodeTokensPerS: 21, firstTokenS: 2.2, totalS: 4.3 },
      }, 5000],
    ]);
    expect(s.phase).toBe("complete");
    expect(isFinished(s)).toBe(true);
    expect(s.stats).toEqual({ generatedTokens: 42, tokPerS: 21, ttftS: 2.2, stopReason: "eos", promptTokens: 900, imageTokens: 832, totalS: 4.3, visionS: 1.5, prefillS: 0.5 });
    expect(currentStats(s, 9999)).toEqual({ tokPerS: 21, ttftS: 2.2 });
  });

  it("done with stop reason cancelled is a stopped answer", () => {
    const s = run([[{
      type: "done", stopReason: "cancelled", generatedTokens: 3, promptTokens: 10, imageTokens: 0,
      timings: { visionS: 0, prefillS: 0.1, decodeS: 0.2, decodeTokensPerS: 15, firstTokenS: null, totalS: 0.3 },
    }, 2000]]);
    expect(s.phase).toBe("cancelled");
    expect(s.stats?.ttftS).toBeNull();
  });

  it("error shows code and message and ends the stream", () => {
    const s = run([
      [{ type: "token", text: "partial", count: 1 }, 1200],
      [{ type: "error", code: "worker_crashed", message: "The model worker stopped." }, 1300],
    ]);
    expect(s.phase).toBe("error");
    expect(s.error).toEqual({ code: "worker_crashed", message: "The model worker stopped." });
    expect(s.text).toBe("partial");
    const after = applyStreamEvent(s, { type: "token", text: "late", count: 1 }, 1400);
    expect(after).toBe(s);
  });

  it("save-failed keeps the answer going and remembers why it is not saved", () => {
    const s = run([
      [{ type: "token", text: "Hi", count: 1 }, 1200],
      [{ type: "save-failed", code: "storage", message: "disk full" }, 1250],
      [{ type: "token", text: " there", count: 1 }, 1300],
    ]);
    expect(s.saveError).toEqual({ code: "storage", message: "disk full" });
    expect(s.phase).toBe("streaming");
    expect(s.text).toBe("Hi there");
    expect(newLiveAnswer("c1", 0).saveError).toBeNull();
  });

  it("a stored answer's timings give its stats after reopening", () => {
    const stored = {
      id: "m2", role: "assistant" as const, text: "Hi", images: [], status: "complete" as const, createdMs: 0,
      generatedTokens: 12,
      timings: { visionS: 2.25, prefillS: 0.75, decodeS: 1, decodeTokensPerS: 11, firstTokenS: 3.1, totalS: 4.1 },
    };
    expect(storedStats(stored)).toMatchObject({ generatedTokens: 12, tokPerS: 11, ttftS: 3.1, visionS: 2.25, prefillS: 0.75, totalS: 4.1 });
    const { timings: _, ...untimed } = stored;
    expect(storedStats(untimed)).toBeNull();
  });
});
