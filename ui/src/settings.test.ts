import { describe, expect, it, vi } from "vitest";
import type { AboutInfo, LocalApiStatus, Settings } from "./api";

vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return {
    ...real,
    api: {
      saveSettings: vi.fn(async (s: Settings) => s),
      localApiStatus: vi.fn(async (): Promise<LocalApiStatus> => ({ running: false, url: null, error: null })),
      about: vi.fn(async (): Promise<AboutInfo> => ({
        version: "0.1.0",
        cpuKernels: "avx512",
        backends: [
          { device: "cpu", compiled: true, available: true, detail: "avx512 kernels" },
          { device: "cuda", compiled: true, available: false, detail: "CUDA needs libcuda.so.1" },
          { device: "metal", compiled: false, available: false, detail: "no Metal support" },
        ],
        dataDir: "/home/u/.local/share/org.smolvlm.desktop",
        hfCacheDir: "/home/u/.cache/huggingface/hub",
        logDir: "/home/u/.local/share/org.smolvlm.desktop/logs",
      })),
    },
  };
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

  it("lists where a model can run under Device, the GPU's reason when it cannot", async () => {
    const { q } = openDialog();
    await tick();
    const items = Array.from(q("device-availability").querySelectorAll("li"));
    expect(items.map((li) => li.dataset.device)).toEqual(["cpu", "cuda", "metal"]);
    expect(items.map((li) => li.dataset.available)).toEqual(["true", "false", "false"]);
    expect(items[1]?.textContent).toBe("NVIDIA GPU (CUDA): unavailable (CUDA needs libcuda.so.1)");
  });

  it("says in About what this is, what it runs on and where its logs are", async () => {
    const { q } = openDialog();
    expect(q("about").querySelector("legend")?.textContent).toBe("About");
    await tick();
    expect(q("about-version").textContent).toBe("SmolVLM Desktop 0.1.0");
    expect(q("about-kernels").textContent).toBe("avx512");
    expect(Array.from(q("about-devices").querySelectorAll("li")).map((li) => li.textContent)).toEqual([
      "CPU: avx512 kernels",
      "NVIDIA GPU (CUDA): unavailable (CUDA needs libcuda.so.1)",
      "Apple GPU (Metal): not in this build",
    ]);
    // One probe of the backends serves the Device row too.
    expect(api.about).toHaveBeenCalledTimes(1);
    expect(q("about-log-dir").textContent).toBe("/home/u/.local/share/org.smolvlm.desktop/logs");
    expect(q("about-log-dir").closest(".about-row")?.querySelector("dt")?.textContent).toBe("Log files");
    expect(q("about-data-dir").textContent).toBe("/home/u/.local/share/org.smolvlm.desktop");
    expect(q("about-hf-cache").textContent).toBe("/home/u/.cache/huggingface/hub");
    // The log folder's path copies.
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    q<HTMLButtonElement>("about-log-dir-copy").click();
    await tick();
    expect(writeText).toHaveBeenCalledWith("/home/u/.local/share/org.smolvlm.desktop/logs");
  });

  it("says why About is empty when the backend cannot answer", async () => {
    vi.mocked(api.about).mockRejectedValueOnce({ code: "ipc", message: "gone" });
    const { q } = openDialog();
    await tick();
    expect(q("about-error").textContent).toBe("Could not read this: gone");
    expect(q("device-availability").children).toHaveLength(0);
  });

  it("adds, lists and removes connections, and saves who answers", async () => {
    const { dlg, store, q, set } = openDialog();
    expect(q("connection-list").textContent).toContain("No connections yet.");
    expect(Array.from(q<HTMLSelectElement>("setting-backend").options).map((o) => o.text)).toEqual(["This computer"]);
    // A bad address is refused with a reason, and Save does not save it.
    set("connection-name", "Second");
    set("connection-url", "localhost:8080");
    q<HTMLButtonElement>("connection-add").click();
    expect(q("connection-error").hidden).toBe(false);
    expect(q("connection-error").textContent).toMatch(/http/);
    q<HTMLButtonElement>("settings-save").click();
    await tick();
    expect(api.saveSettings).not.toHaveBeenCalled();
    set("connection-url", "http://127.0.0.1:40123/v1/");
    set("connection-model", "tiny");
    q<HTMLButtonElement>("connection-add").click();
    expect(q("connection-error").hidden).toBe(true);
    set("connection-name", "Second");
    set("connection-url", "http://127.0.0.1:40124/v1");
    q<HTMLButtonElement>("connection-add").click();
    expect(q("connection-error").textContent).toMatch(/already/);
    set("connection-name", "Third");
    q<HTMLButtonElement>("connection-add").click();
    const items = Array.from(dlg.el.querySelectorAll<HTMLElement>('[data-testid="connection-item"]'));
    expect(items.map((i) => i.dataset.id)).toEqual(["second", "third"]);
    expect(items[0]?.textContent).toContain("http://127.0.0.1:40123/v1 · model tiny");
    const backend = q<HTMLSelectElement>("setting-backend");
    expect(Array.from(backend.options).map((o) => [o.value, o.text])).toEqual([["", "This computer"], ["second", "Second"], ["third", "Third"]]);
    backend.value = "third";
    // Removing the selected connection falls back to this computer.
    items[1]?.querySelector<HTMLButtonElement>('[data-testid="connection-remove"]')?.click();
    expect(backend.value).toBe("");
    backend.value = "second";
    q<HTMLButtonElement>("settings-save").click();
    await tick();
    expect(api.saveSettings).toHaveBeenCalledWith(expect.objectContaining({
      backend: "second",
      connections: [{ id: "second", name: "Second", baseUrl: "http://127.0.0.1:40123/v1", apiKey: null, model: "tiny" }],
    }));
    expect(store.get().settings?.backend).toBe("second");
    // The local API did not change: the dialog closed.
    expect(dlg.el.open).toBe(false);
  });

  it("turns the local API on and shows where it serves", async () => {
    const { dlg, q, set } = openDialog();
    await tick();
    expect(q("local-api-status").textContent).toMatch(/^Off/);
    expect(q("local-api-copy").hidden).toBe(true);
    set("setting-localApi-port", "70000");
    q<HTMLInputElement>("setting-localApi-enabled").checked = true;
    q<HTMLButtonElement>("settings-save").click();
    await tick();
    expect(q("settings-error").textContent).toMatch(/port/);
    expect(api.saveSettings).not.toHaveBeenCalled();
    set("setting-localApi-port", "8765");
    set("setting-localApi-apiKey", "sk-local");
    expect(q("local-api-hint").textContent).toContain("Authorization: Bearer $API_KEY");
    vi.mocked(api.localApiStatus).mockResolvedValue({ running: true, url: "http://127.0.0.1:8765/v1", error: null });
    q<HTMLButtonElement>("settings-save").click();
    await tick();
    expect(api.saveSettings).toHaveBeenCalledWith(expect.objectContaining({
      localApi: { enabled: true, host: "127.0.0.1", port: 8765, apiKey: "sk-local" },
    }));
    // It stays open with the backend's answer.
    expect(dlg.el.open).toBe(true);
    expect(q("local-api-status").textContent).toBe("Serving at http://127.0.0.1:8765/v1");
    expect(q("local-api-copy").hidden).toBe(false);
    expect(q("local-api-hint").textContent).toContain("curl http://127.0.0.1:8765/v1/chat/completions");
    expect(q("settings-saved").hidden).toBe(false);
    // A port in use is said as the backend says it.
    vi.mocked(api.localApiStatus).mockResolvedValue({ running: false, url: null, error: { code: "addr_in_use", message: "127.0.0.1:8765 is already in use" } });
    set("setting-localApi-port", "8766");
    q<HTMLButtonElement>("settings-save").click();
    await tick();
    expect(q("local-api-status").textContent).toBe("Not serving: 127.0.0.1:8765 is already in use");
    expect(q("local-api-status").closest<HTMLElement>(".api-status")?.dataset.tone).toBe("error");
  });
});

const tick = () => new Promise((r) => setTimeout(r, 0));

function openDialog() {
  HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) { this.open = true; };
  HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) { this.open = false; };
  vi.mocked(api.saveSettings).mockClear();
  vi.mocked(api.about).mockClear();
  vi.mocked(api.localApiStatus).mockResolvedValue({ running: false, url: null, error: null });
  const store = createStore<import("./state").AppState>({ ...initialState(), settings: { ...DEFAULT_SETTINGS } });
  const dlg = createSettingsDialog(store, () => undefined);
  document.body.append(dlg.el);
  dlg.open();
  const q = <T extends HTMLElement = HTMLElement>(id: string): T => {
    const el = dlg.el.querySelector<T>(`[data-testid="${id}"]`);
    if (!el) throw new Error(`no ${id}`);
    return el;
  };
  const set = (id: string, value: string) => {
    const el = q<HTMLInputElement>(id);
    el.value = value;
    el.dispatchEvent(new Event("input"));
  };
  return { dlg, store, q, set };
}
