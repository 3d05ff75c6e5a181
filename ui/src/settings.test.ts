import { describe, expect, it, vi } from "vitest";
import type { Settings } from "./api";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { saveSettings: vi.fn(async (s: Settings) => s) } };
});

const { api } = await import("./api");
const { createSettingsDialog, normalizeSettings, DEFAULT_SETTINGS } = await import("./settings");
const { createStore, initialState } = await import("./state");

describe("settings", () => {
  it("clamps numbers into range", () => {
    const s = normalizeSettings({ ...DEFAULT_SETTINGS, temperature: 9, topP: 0, maxNewTokens: 0, threads: -3, topK: Number.NaN });
    expect(s).toMatchObject({ temperature: 2, topP: 0.01, maxNewTokens: 1, threads: 0, topK: 0 });
  });

  it("has labelled controls and saves through the backend", async () => {
    // jsdom may lack the modal API; the dialog logic does not depend on it.
    HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) { this.open = true; };
    HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) { this.open = false; };
    const store = createStore<import("./state").AppState>({ ...initialState(), settings: { ...DEFAULT_SETTINGS, maxNewTokens: 512, theme: "system" as const } });
    const onSaved = vi.fn();
    const dlg = createSettingsDialog(store, onSaved);
    document.body.append(dlg.el);
    dlg.open();
    for (const input of Array.from(dlg.el.querySelectorAll("input, select, textarea"))) {
      const labels = (input as HTMLInputElement).labels;
      expect(labels && labels.length > 0 ? labels[0]?.textContent : null, input.outerHTML).toBeTruthy();
    }
    const max = dlg.el.querySelector<HTMLInputElement>('[data-testid="setting-maxNewTokens"]');
    expect(max?.value).toBe("512");
    if (max) max.value = "4000";
    const theme = dlg.el.querySelector<HTMLSelectElement>('[data-testid="setting-theme"]');
    if (theme) theme.value = "dark";
    dlg.el.querySelector<HTMLButtonElement>('[data-testid="settings-save"]')?.click();
    await new Promise((r) => setTimeout(r, 0));
    expect(api.saveSettings).toHaveBeenCalledWith(expect.objectContaining({ maxNewTokens: 4000, theme: "dark" }));
    expect(store.get().settings?.maxNewTokens).toBe(4000);
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(onSaved).toHaveBeenCalled();
  });
});
