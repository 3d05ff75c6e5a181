// The settings dialog: sampling, system prompt, threads, device, image resolution and theme, the
// local API and the connections, saved through the backend, and About (version, devices, the
// app's folders). Also the pure parts: defaults and clamping.

import { api, toApiError, type DeviceChoice, type Settings, type Theme } from "./api";
import { h } from "./dom";
import { row, type Field } from "./form-row";
import { icon } from "./icons";
import { createDevicesEl } from "./devices";
import { createAboutSection } from "./settings-about";
import { createConnectionsSection } from "./settings-connections";
import { createLocalApiSection, sameLocalApi } from "./settings-local-api";
import { PRESETS, type ResolutionPreset } from "./resolution";
import type { AppState, Store } from "./state";
import { applyTheme } from "./theme";

export const DEFAULT_SETTINGS: Settings = {
  temperature: 0,
  topP: 1,
  topK: 0,
  maxNewTokens: 512,
  repetitionPenalty: 1,
  systemPrompt: "",
  threads: 0,
  device: "auto",
  resolution: "standard",
  theme: "system",
  lastModel: null,
  localApi: { enabled: false, host: "127.0.0.1", port: 8080, apiKey: null },
  connections: [],
  backend: null,
};

function clamp(v: number, lo: number, hi: number, fallback: number): number {
  if (!Number.isFinite(v)) return fallback;
  return Math.min(hi, Math.max(lo, v));
}

/** Settings with every number within range (what the form produces before saving). */
export function normalizeSettings(s: Settings): Settings {
  const d = DEFAULT_SETTINGS;
  return {
    ...s,
    temperature: clamp(s.temperature, 0, 2, d.temperature),
    topP: clamp(s.topP, 0.01, 1, d.topP),
    topK: Math.round(clamp(s.topK, 0, 1000, d.topK)),
    maxNewTokens: Math.round(clamp(s.maxNewTokens, 1, 32768, d.maxNewTokens)),
    repetitionPenalty: clamp(s.repetitionPenalty, 0.5, 2, d.repetitionPenalty),
    threads: Math.round(clamp(s.threads, 0, 256, d.threads)),
  };
}

function rangeField(label: string, key: "temperature" | "topP", min: number, max: number, step: number, hint: string): Field {
  const input = h("input", { type: "range", min, max, step, testid: `setting-${key}` });
  const out = h("output", { class: "range-value" });
  const show = () => (out.textContent = Number(input.value).toFixed(2));
  input.addEventListener("input", show);
  return {
    el: row(label, input, hint, out),
    read: (s) => {
      input.value = String(s[key]);
      show();
    },
    write: (s) => {
      s[key] = Number(input.value);
    },
  };
}

function numberField(label: string, key: "topK" | "maxNewTokens" | "repetitionPenalty" | "threads", min: number, max: number, step: number, hint: string): Field {
  const input = h("input", { type: "number", min, max, step, class: "input", testid: `setting-${key}`, inputmode: step < 1 ? "decimal" : "numeric" });
  return {
    el: row(label, input, hint),
    read: (s) => (input.value = String(s[key])),
    write: (s) => {
      s[key] = input.value === "" ? DEFAULT_SETTINGS[key] : Number(input.value);
    },
  };
}

function selectField<T extends string>(label: string, testid: string, options: [T, string][], get: (s: Settings) => T, set: (s: Settings, v: T) => void, hint?: string): Field {
  const select = h("select", { class: "select", testid }, ...options.map(([v, text]) => h("option", { value: v, text })));
  return {
    el: row(label, select, hint),
    read: (s) => (select.value = get(s)),
    write: (s) => set(s, select.value as T),
  };
}

export interface SettingsDialog {
  el: HTMLDialogElement;
  open(): void;
}

export function createSettingsDialog(store: Store<AppState>, onSaved: (s: Settings) => void): SettingsDialog {
  const prompt = h("textarea", { class: "input", rows: 3, testid: "setting-systemPrompt", placeholder: "e.g. Answer briefly. Describe images precisely." });
  const promptField: Field = {
    el: row("System prompt", prompt, "Sent before every conversation."),
    read: (s) => (prompt.value = s.systemPrompt),
    write: (s) => {
      s.systemPrompt = prompt.value;
    },
  };
  const fields: Field[] = [
    rangeField("Temperature", "temperature", 0, 2, 0.01, "0 always picks the likeliest token; higher is more varied."),
    rangeField("Top-p", "topP", 0.01, 1, 0.01, "Samples only from the most likely tokens that add up to this share."),
    numberField("Top-k", "topK", 0, 1000, 1, "0 = off."),
    numberField("Max new tokens", "maxNewTokens", 1, 32768, 1, "The longest answer, in tokens."),
    numberField("Repetition penalty", "repetitionPenalty", 0.5, 2, 0.05, "1 = off; a little above 1 discourages loops."),
    promptField,
    numberField("CPU threads", "threads", 0, 256, 1, "0 = automatic. Applies when a model is next loaded."),
    selectField<DeviceChoice>("Device", "setting-device",
      [["auto", "Automatic"], ["cpu", "CPU"], ["cuda", "NVIDIA GPU (CUDA)"], ["metal", "Apple GPU (Metal)"]],
      (s) => s.device, (s, v) => (s.device = v), "Applies when a model is next loaded."),
    selectField<ResolutionPreset>("Default image resolution", "setting-resolution",
      PRESETS.map((p) => [p.id, `${p.label}: ${p.hint}`] as [ResolutionPreset, string]),
      (s) => s.resolution, (s, v) => (s.resolution = v)),
    selectField<Theme>("Theme", "setting-theme",
      [["system", "Follow the system"], ["light", "Light"], ["dark", "Dark"]],
      (s) => s.theme, (s, v) => (s.theme = v)),
  ];

  const devices = createDevicesEl();
  // Under the Device choice, inside its own row (a grid cell), as its hint is.
  fields.find((f) => f.el.querySelector('[data-testid="setting-device"]'))?.el.append(devices.el);
  const localApi = createLocalApiSection();
  const connections = createConnectionsSection();
  const about = createAboutSection();

  const error = h("p", { class: "inline-error", role: "alert", testid: "settings-error", hidden: true });
  const savedNote = h("p", { class: "save-note", testid: "settings-saved", role: "status", hidden: true });
  const save = h("button", { type: "submit", class: "button primary", testid: "settings-save", text: "Save" });
  const cancel = h("button", { type: "button", class: "button", testid: "settings-cancel", text: "Cancel" });
  const close = h("button", { type: "button", class: "icon-button", "aria-label": "Close" }, icon("x"));
  const sampling = fields.slice(0, 5);
  const rest = fields.slice(5);
  // novalidate: values are clamped on save instead of blocking it on a step mismatch.
  const form = h("form", { class: "settings-form", novalidate: true },
    h("fieldset", { class: "fieldset" }, h("legend", { text: "Answers" }), ...sampling.map((f) => f.el)),
    h("fieldset", { class: "fieldset" }, h("legend", { text: "Model and app" }),
      ...rest.map((f) => f.el)),
    connections.el,
    localApi.el,
    about.el,
    error,
    h("div", { class: "dialog-actions" }, savedNote, cancel, save));
  const dialog = h("dialog", { class: "dialog", testid: "settings", "aria-labelledby": "settings-title" },
    h("header", { class: "dialog-head" }, h("h2", { id: "settings-title", class: "dialog-title", text: "Settings" }), close),
    h("div", { class: "dialog-body" }, form));

  close.addEventListener("click", () => dialog.close());
  cancel.addEventListener("click", () => dialog.close());
  async function refreshApiStatus(): Promise<void> {
    localApi.showStatus(null);
    try {
      localApi.showStatus(await api.localApiStatus());
    } catch (e) {
      const err = toApiError(e);
      localApi.showStatus({ running: false, url: null, error: { code: err.code, message: `could not read the status (${err.message})` } });
    }
  }

  function showError(text: string | null): void {
    error.textContent = text ?? "";
    error.hidden = text === null;
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    void (async () => {
      const before: Settings = store.get().settings ?? DEFAULT_SETTINGS;
      const next: Settings = { ...before };
      for (const f of fields) f.write(next);
      const problem = connections.write(next) ?? localApi.write(next);
      if (problem) {
        showError(problem);
        return;
      }
      const normalized = normalizeSettings(next);
      save.disabled = true;
      savedNote.hidden = true;
      try {
        const saved = await api.saveSettings(normalized);
        store.set({ settings: saved });
        applyTheme(saved.theme);
        onSaved(saved);
        showError(null);
        if (sameLocalApi(before.localApi, saved.localApi)) {
          dialog.close();
          return;
        }
        // The local API started, restarted or stopped: stay open to show how that went.
        await refreshApiStatus();
        savedNote.textContent = "Saved.";
        savedNote.hidden = false;
        cancel.textContent = "Close";
        localApi.statusEl.scrollIntoView?.({ block: "nearest" });
      } catch (e) {
        const err = toApiError(e);
        showError(`Could not save: ${err.message} (${err.code})`);
      } finally {
        save.disabled = false;
      }
    })();
  });

  return {
    el: dialog,
    open() {
      const s = store.get().settings ?? DEFAULT_SETTINGS;
      for (const f of fields) f.read(s);
      connections.read(s);
      localApi.read(s);
      showError(null);
      savedNote.hidden = true;
      cancel.textContent = "Cancel";
      if (!dialog.open) dialog.showModal();
      void refreshApiStatus();
      devices.show(null);
      about.show(null);
      // One probe of the backends (a GPU's opens a context) for both the Device row and About.
      void api.about().then((info) => {
        devices.show(info.backends);
        about.show(info);
      }, (e: unknown) => {
        devices.show([]);
        about.show(toApiError(e).message);
      });
    },
  };
}
