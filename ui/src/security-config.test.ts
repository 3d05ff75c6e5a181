// The webview's walls, read from the files tauri builds them from: the CSP in tauri.conf.json and
// the capabilities in src-tauri/capabilities/. Model output is untrusted (xss.test.ts); these make
// sure that if markup ever got through, it could neither run script nor load anything remote nor
// reach native APIs beyond the events. The UI's own sources are checked for what would need the
// CSP loosened (inline script/style, eval, blob: URLs, fetch), so a change that needs it fails
// here rather than in the field.

import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** The repository root (this file is ui/src/…). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const read = (path: string) => readFileSync(join(ROOT, path), "utf8");

interface TauriConf {
  app: {
    withGlobalTauri?: boolean;
    windows: Array<{ label?: string; url?: string }>;
    security: {
      csp: string | Record<string, string | string[]> | null;
      devCsp?: unknown;
      freezePrototype?: boolean;
      dangerousDisableAssetCspModification?: unknown;
      assetProtocol?: { enable?: boolean; scope?: unknown };
      capabilities?: unknown[];
      pattern?: { use?: string };
    };
  };
}

const conf = JSON.parse(read("tauri.conf.json")) as TauriConf;

/** The CSP as directive → sources (tauri takes an object or a policy string). */
function directives(csp: TauriConf["app"]["security"]["csp"]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (csp === null) return out;
  const entries = typeof csp === "string"
    ? csp.split(";").map((d) => d.trim()).filter(Boolean).map((d) => {
      const [name = "", ...rest] = d.split(/\s+/);
      return [name, rest] as const;
    })
    : Object.entries(csp).map(([name, v]) => [name, Array.isArray(v) ? v : v.split(/\s+/)] as const);
  for (const [name, sources] of entries) out.set(name.toLowerCase(), sources.filter(Boolean));
  return out;
}

const csp = directives(conf.app.security.csp);
const sources = (d: string) => csp.get(d) ?? csp.get("default-src") ?? [];

/** Sources that are this app's own: its bundle, its IPC and its image scheme (the
 * http://*.localhost forms are what those schemes look like on Windows and Android). */
const LOCAL = new Set(["'self'", "'none'", "ipc:", "http://ipc.localhost", "smolvlm-image:", "http://smolvlm-image.localhost"]);

/** The UI's sources, tests left out. */
const UI_SOURCES = readdirSync(join(ROOT, "ui/src"))
  .filter((f) => /\.ts$/.test(f) && !/\.test\.ts$/.test(f))
  .map((f) => ({ file: f, text: read(`ui/src/${f}`) }));

describe("content security policy (tauri.conf.json)", () => {
  it("is set, as directives tauri knows how to add its hashes to", () => {
    expect(conf.app.security.csp).not.toBeNull();
    expect(conf.app.security.dangerousDisableAssetCspModification).toBeUndefined();
    expect(csp.size).toBeGreaterThan(5);
    const known = new Set(["default-src", "script-src", "style-src", "img-src", "connect-src", "font-src", "media-src",
      "worker-src", "object-src", "base-uri", "form-action", "frame-src", "frame-ancestors", "child-src", "manifest-src"]);
    for (const name of csp.keys()) expect(known.has(name), `unknown directive ${name}`).toBe(true);
  });

  it("allows nothing by default but the app's own bundle", () => {
    expect(csp.get("default-src")).toEqual(["'self'"]);
  });

  it("runs only the app's own script files: no inline script, no eval", () => {
    expect(csp.get("script-src")).toEqual(["'self'"]);
    for (const [name, list] of csp) {
      for (const bad of ["'unsafe-eval'", "'unsafe-inline'", "'unsafe-hashes'", "'wasm-unsafe-eval'", "'strict-dynamic'", "*"]) {
        expect(list, `${name} has ${bad}`).not.toContain(bad);
      }
      expect(list.filter((s) => /^'(?:nonce|sha\d+)-/.test(s)), `${name} has a nonce or hash (tauri adds its own)`).toEqual([]);
    }
  });

  it("takes styles only from the app's stylesheet (no <style>, no style attributes)", () => {
    expect(csp.get("style-src")).toEqual(["'self'"]);
  });

  it("loads nothing remote: every source is the app's own", () => {
    for (const [name, list] of csp) {
      for (const s of list) {
        const scheme = /^[a-z][a-z0-9+.-]*:$/.test(s);
        const ok = LOCAL.has(s) || (name === "img-src" && s === "data:");
        expect(ok, `${name} allows ${s}${scheme ? " (a whole scheme)" : ""}`).toBe(true);
      }
    }
  });

  it("images: the bundle, the image store's scheme and data: (PDF page thumbnails are PNG data URLs)", () => {
    expect(new Set(csp.get("img-src"))).toEqual(new Set(["'self'", "smolvlm-image:", "http://smolvlm-image.localhost", "data:"]));
    expect(csp.get("img-src")).not.toContain("blob:");
  });

  it("connects only to the IPC", () => {
    expect(new Set(csp.get("connect-src"))).toEqual(new Set(["ipc:", "http://ipc.localhost"]));
  });

  it("no plugins, frames, workers, media, forms or base URL; not framable", () => {
    for (const d of ["object-src", "frame-src", "frame-ancestors", "worker-src", "media-src", "form-action", "base-uri"]) {
      expect(csp.get(d), d).toEqual(["'none'"]);
    }
    expect(sources("child-src").every((s) => s === "'none'" || s === "'self'")).toBe(true);
    expect(sources("font-src").every((s) => s === "'none'" || s === "'self'")).toBe(true);
    expect(sources("manifest-src").every((s) => s === "'none'" || s === "'self'")).toBe(true);
  });

  it("the rest of app.security stays strict", () => {
    expect(conf.app.security.freezePrototype).toBe(true);
    expect(conf.app.security.assetProtocol?.enable ?? false, "the asset protocol (images come from smolvlm-image:)").toBe(false);
    expect(conf.app.security.devCsp ?? null, "a looser devCsp").toBeNull();
    expect(conf.app.security.pattern?.use ?? "brownfield").toBe("brownfield");
    expect(conf.app.security.capabilities ?? [], "inline capabilities (they live in src-tauri/capabilities/)").toEqual([]);
    expect(conf.app.withGlobalTauri ?? false, "window.__TAURI__").toBe(false);
    for (const w of conf.app.windows) expect(w.url ?? "index.html", "a window on a remote URL").not.toMatch(/^[a-z][a-z0-9+.-]*:/i);
  });
});

describe("the UI needs nothing the CSP forbids", () => {
  it("sets HTML from strings in one place only: the sanitized markdown", () => {
    for (const { file, text } of UI_SOURCES) {
      const code = text.replace(/^\s*(?:\/\/|\*|\/\*).*$/gm, "");
      const sinks = code.match(/\.(?:innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|createContextualFragment|DOMParser|srcdoc/g) ?? [];
      if (file === "markdown.ts") {
        expect(sinks).toEqual([".innerHTML ="]);
        expect(code).toMatch(/el\.innerHTML = renderMarkdown\(src\);/);
      } else {
        expect(sinks, file).toEqual([]);
      }
    }
  });

  it("no eval, no string timers, no inline handlers or styles set from strings", () => {
    for (const { file, text } of UI_SOURCES) {
      const code = text.replace(/^\s*(?:\/\/|\*|\/\*).*$/gm, "");
      expect(code, file).not.toMatch(/\beval\s*\(|new Function\s*\(|set(?:Timeout|Interval)\s*\(\s*["'`]/);
      expect(code, file).not.toMatch(/setAttribute\(\s*["'](?:on\w+|style)["']/);
      expect(code, file).not.toMatch(/\.style\.cssText\s*=|\.setAttribute\(\s*["']srcdoc/);
    }
  });

  it("makes no blob: URLs and opens no network connections of its own", () => {
    for (const { file, text } of UI_SOURCES) {
      expect(text, file).not.toMatch(/createObjectURL|["'`]blob:/);
      expect(text, file).not.toMatch(/\bfetch\s*\(|new WebSocket|new EventSource|sendBeacon|XMLHttpRequest|new Worker|new SharedWorker/);
    }
  });

  it("index.html: one module script and one stylesheet, both files; no inline script or style", () => {
    const html = read("ui/index.html");
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="/src/main.ts">']);
    expect(html).not.toMatch(/<style\b|\sstyle=|\son\w+=/i);
    expect(html.match(/<link\b[^>]*>/g)).toEqual(['<link rel="stylesheet" href="/src/style.css" />']);
  });

  it("the stylesheet loads nothing (no url(), no @import)", () => {
    const css = read("ui/src/style.css");
    expect(css).not.toMatch(/url\(|@import|@font-face/i);
  });

  it("uses only the Tauri APIs the capability grants (IPC, events, its own image scheme)", () => {
    const modules = new Set<string>();
    for (const { text } of UI_SOURCES) for (const m of text.matchAll(/from\s+"(@tauri-apps\/[^"]+)"/g)) modules.add(m[1]!);
    expect([...modules].sort()).toEqual(["@tauri-apps/api/core", "@tauri-apps/api/event", "@tauri-apps/api/webview"]);
    const assets = UI_SOURCES.find((s) => s.file === "assets.ts")?.text ?? "";
    expect(assets).toMatch(/convertFileSrc\(baseName\(file\), IMAGE_SCHEME\)/);
    for (const { file, text } of UI_SOURCES) {
      const calls = text.match(/\bconvertFileSrc\(.*$/gm) ?? [];
      for (const c of calls) expect(c, `${file}: a file URL on another scheme`).toMatch(/, IMAGE_SCHEME\);?$/);
      // From @tauri-apps/api/webview only the drop listener (plugin:event|listen underneath).
      if (/@tauri-apps\/api\/webview/.test(text)) expect(text.match(/getCurrentWebview\(\)\.\w+/g), file).toEqual(["getCurrentWebview().onDragDropEvent"]);
    }
  });
});

// ---- capabilities ----------------------------------------------------------------------------

interface Capability {
  identifier: string;
  windows?: string[];
  webviews?: string[];
  remote?: unknown;
  platforms?: string[];
  permissions: Array<string | { identifier: string; allow?: unknown; deny?: unknown }>;
}

const CAP_DIR = "src-tauri/capabilities/";
const capFiles = readdirSync(join(ROOT, CAP_DIR));
const capabilities = capFiles.filter((f) => f.endsWith(".json")).map((f) => ({ file: f, cap: JSON.parse(read(CAP_DIR + f)) as Capability }));

/** What the UI calls: `listen`/`unlisten` (answers, downloads, drops); `emit` is in the set
 * and used only by the E2E drop emulation (page-emitted drops grant no paths unless a WebDriver
 * drives the app, src-tauri/src/grants.rs). App commands need no permission (no app ACL manifest),
 * and neither does reading a Channel (`plugin:__TAURI_CHANNEL__|fetch`). */
const GRANTED = ["core:event:default"];

describe("capabilities (src-tauri/capabilities/)", () => {
  it("one capability, in JSON, for the main window only, local content only", () => {
    expect(capFiles.filter((f) => !f.endsWith(".json")), "capabilities in another format").toEqual([]);
    expect(capabilities.map((c) => c.cap.identifier)).toEqual(["main"]);
    const cap = capabilities[0]!.cap;
    expect(cap.windows).toEqual(["main"]);
    expect(cap.webviews ?? []).toEqual([]);
    expect(cap.remote, "a remote-URL capability").toBeUndefined();
  });

  it("grants the events and nothing else", () => {
    const perms = capabilities.flatMap((c) => c.cap.permissions);
    expect(perms).toEqual(GRANTED);
  });

  it("no plugin permissions (fs, shell, http, dialog, opener, process…), no scoped ones, no window or webview control", () => {
    for (const p of capabilities.flatMap((c) => c.cap.permissions)) {
      const id = typeof p === "string" ? p : p.identifier;
      expect(typeof p, `${id} is scoped`).toBe("string");
      expect(id, "a plugin permission").toMatch(/^core:/);
      expect(id).not.toMatch(/^(?:fs|shell|http|dialog|opener|process|updater|clipboard-manager|global-shortcut|os|notification|store|sql|upload|websocket|deep-link|autostart|log|positioner|window-state|persisted-scope|single-instance|stronghold|localhost|barcode-scanner|biometric|nfc|haptics|geolocation|cli):/);
      expect(id, "core:default (path, image from-path, menu, tray, window getters…)").not.toBe("core:default");
      expect(id).not.toMatch(/^core:(?:window|webview|app|path|image|menu|tray|resources):/);
    }
  });

  it("what the granted set expands to, when tauri has generated its ACL manifests", () => {
    let manifests: Record<string, { default_permission?: { permissions: string[] } }>;
    try {
      manifests = JSON.parse(read("src-tauri/gen/schemas/acl-manifests.json"));
    } catch {
      return; // not built here yet (src-tauri/gen is generated by tauri-build)
    }
    expect(manifests["core:event"]?.default_permission?.permissions.sort()).toEqual(["allow-emit", "allow-emit-to", "allow-listen", "allow-unlisten"]);
  });
});
