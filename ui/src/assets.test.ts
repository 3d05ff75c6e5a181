import { describe, expect, it, vi } from "vitest";

vi.mock("@tauri-apps/api/core", () => ({
  convertFileSrc: (path: string, protocol = "asset") => `${protocol}://localhost/${encodeURIComponent(path)}`,
}));

const { imageSrc, IMAGE_SCHEME } = await import("./assets");

describe("stored image URLs", () => {
  it("name the file to the app's own scheme, never its path", () => {
    const name = `${"a".repeat(64)}.png`;
    expect(IMAGE_SCHEME).toBe("smolvlm-image");
    expect(imageSrc(`/home/me/.local/share/app/images/${name}`)).toBe(`smolvlm-image://localhost/${name}`);
    expect(imageSrc(`C:\\Users\\me\\images\\${name}`)).toBe(`smolvlm-image://localhost/${name}`);
  });
});
