import { describe, expect, it } from "vitest";
import { baseName, dateGroup, formatBytes, formatCount, formatEta, formatRate, formatSeconds, formatTokPerS, percent, relativeTime, titleFrom } from "./format";

describe("format", () => {
  it("bytes", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(1500)).toBe("1.50 KB");
    expect(formatBytes(12_345_678)).toBe("12.3 MB");
    expect(formatBytes(512_000_000)).toBe("512 MB");
    expect(formatBytes(1_210_000_000)).toBe("1.21 GB");
    expect(formatBytes(-1)).toBe("—");
    expect(formatBytes(Number.NaN)).toBe("—");
  });

  it("rates", () => {
    expect(formatRate(12_300_000)).toBe("12.3 MB/s");
    expect(formatRate(0)).toBe("—");
  });

  it("eta", () => {
    expect(formatEta(null)).toBe("—");
    expect(formatEta(45.4)).toBe("45 s");
    expect(formatEta(185)).toBe("3 min 05 s");
    expect(formatEta(3720)).toBe("1 h 02 min");
    expect(formatEta(Number.POSITIVE_INFINITY)).toBe("—");
  });

  it("seconds and speeds", () => {
    expect(formatSeconds(0.4213)).toBe("0.42 s");
    expect(formatSeconds(31.25)).toBe("31.3 s");
    expect(formatSeconds(null)).toBe("—");
    expect(formatTokPerS(23.44)).toBe("23.4 tok/s");
    expect(formatTokPerS(123.4)).toBe("123 tok/s");
    expect(formatTokPerS(null)).toBe("— tok/s");
    expect(formatCount(1088)).toBe("1,088");
    expect(percent(5, 10)).toBe(50);
    expect(percent(5, 0)).toBe(0);
  });

  it("dates", () => {
    const now = new Date(2025, 5, 15, 12, 0, 0).getTime();
    expect(dateGroup(now - 60_000, now)).toBe("Today");
    expect(dateGroup(new Date(2025, 5, 14, 9).getTime(), now)).toBe("Yesterday");
    expect(dateGroup(new Date(2025, 5, 10).getTime(), now)).toBe("Previous 7 days");
    expect(dateGroup(new Date(2025, 4, 25).getTime(), now)).toBe("Previous 30 days");
    expect(dateGroup(new Date(2024, 0, 1).getTime(), now)).toBe("Older");
    expect(relativeTime(now - 10_000, now)).toBe("just now");
    expect(relativeTime(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(relativeTime(now - 3 * 3_600_000, now)).toBe("3 h ago");
  });

  it("titles and names", () => {
    expect(titleFrom("  What is this?\nsecond line")).toBe("What is this?");
    expect(titleFrom("")).toBe("Image question");
    expect(titleFrom("x".repeat(70))).toBe(`${"x".repeat(60)}…`);
    expect(baseName("/a/b/c.png")).toBe("c.png");
    expect(baseName("C:\\x\\y.gguf")).toBe("y.gguf");
    expect(baseName("/models/SmolVLM/")).toBe("SmolVLM");
  });
});
