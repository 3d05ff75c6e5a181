// App-specific helpers for the E2E tests: IPC from the page, native-drop emulation, PNG fixtures,
// and page-side recorders (MutationObserver) for things that change faster than a poll.

import { execFileSync } from "node:child_process";
import { deflateSync } from "node:zlib";
import { writeFileSync } from "node:fs";
import { Session, sleep, tid, waitForDriver } from "./webdriver.mjs";

export { sleep, tid };

export const env = {
  webdriver: process.env.WEBDRIVER_URL ?? "http://127.0.0.1:4444",
  binary: process.env.APP_BINARY,
  artifacts: process.env.E2E_ARTIFACTS,
  work: process.env.E2E_WORK,
  fixture: process.env.E2E_FIXTURE,
  hub: process.env.HF_ENDPOINT,
};

/**
 * Starts the app (a new WebDriver session) and waits until its page has loaded. `args` are its
 * command line (WebKitWebDriver's `webkitgtk:browserOptions.args`, which it passes on as they
 * are), as a desktop entry's `%F` gives them.
 */
export async function launch({ args = [] } = {}) {
  if (!env.binary) throw new Error("APP_BINARY is not set (run through scripts/e2e.sh)");
  await previousAppGone(env.binary);
  await waitForDriver(env.webdriver);
  const s = await Session.start(env.webdriver, { binary: env.binary, args, artifacts: env.artifacts });
  // WebKitWebDriver answers before the page is there: poll readyState first.
  await s.waitFor(
    "document.readyState == complete",
    async () => (await s.exec("return document.readyState")) === "complete",
    { timeoutMs: 30_000 },
  );
  await s.waitFor(
    "the Tauri IPC bridge (window.__TAURI_INTERNALS__.invoke)",
    () => s.exec("return typeof window.__TAURI_INTERNALS__?.invoke === 'function'"),
    { timeoutMs: 10_000 },
  );
  return s;
}

/**
 * Waits for an app of an ended session to exit (WebKitWebDriver's session delete does not wait
 * for it), killing it after 15 s: a second instance would open the data folder read-only.
 */
async function previousAppGone(binary) {
  const alive = () => {
    try {
      execFileSync("pgrep", ["-f", binary], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 150 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
  if (!alive()) return;
  console.log("# the previous app did not exit within 15 s: killed");
  try {
    execFileSync("pkill", ["-KILL", "-f", binary], { stdio: "ignore" });
  } catch {
    // Gone in between.
  }
  for (let i = 0; i < 50 && alive(); i++) await new Promise((r) => setTimeout(r, 100));
}

/** Calls a backend command from the page, as the UI does. Throws `{code, message}` text. */
export function invoke(s, cmd, args = {}) {
  return s.execAsync("return await window.__TAURI_INTERNALS__.invoke(arguments[0], arguments[1]);", cmd, args);
}

/**
 * Emits what a native file drop sends (`tauri://drag-enter`, `tauri://drag-over`,
 * `tauri://drag-drop` with `{paths, position}`) through the event plugin, the same route
 * `@tauri-apps/api/event`'s `emit` takes; the UI's `getCurrentWebview().onDragDropEvent` listens for
 * these. Unlike a real drop it does not widen the asset scope (the app copies drops into its own
 * store first, so it should not need to).
 */
export async function drop(s, paths, position = { x: 400, y: 400 }) {
  await s.execAsync(
    `const [paths, position] = arguments;
     const invoke = window.__TAURI_INTERNALS__.invoke;
     await invoke('plugin:event|emit', { event: 'tauri://drag-enter', payload: { paths, position } });
     await invoke('plugin:event|emit', { event: 'tauri://drag-over', payload: { position } });
     await invoke('plugin:event|emit', { event: 'tauri://drag-drop', payload: { paths, position } });`,
    paths,
    position,
  );
}

/** Checks the drop route itself: a webview-targeted listener (what onDragDropEvent registers)
 * receives the emitted event. Returns the payload it got. */
export async function probeDropRoute(s) {
  return s.execAsync(
    `const I = window.__TAURI_INTERNALS__;
     let got = null;
     const handler = I.transformCallback((e) => { got = e.payload; });
     const target = { kind: 'Webview', label: I.metadata?.currentWebview?.label ?? 'main' };
     const id = await I.invoke('plugin:event|listen', { event: 'tauri://drag-drop', target, handler });
     await I.invoke('plugin:event|emit', { event: 'tauri://drag-drop',
       payload: { paths: ['/nonexistent/e2e-probe'], position: { x: -1, y: -1 } } });
     for (let i = 0; i < 50 && !got; i++) await new Promise((r) => setTimeout(r, 20));
     await I.invoke('plugin:event|unlisten', { event: 'tauri://drag-drop', eventId: id }).catch(() => {});
     return got;`,
  );
}

// ---- PNG fixtures ---------------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** Writes an RGB PNG whose pixels come from `pixel(x, y) -> [r, g, b]`. */
export function writePng(path, width, height, pixel) {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    raw[o++] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      raw[o++] = r;
      raw[o++] = g;
      raw[o++] = b;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw)),
    chunk("IEND", Buffer.alloc(0)),
  ]);
  writeFileSync(path, png);
  return path;
}

// ---- page-side recorders --------------------------------------------------------------------

/**
 * Installs a MutationObserver that records, on every DOM change, `sample()` (a JS expression
 * evaluated in the page) when it differs from the last record. Returns a name to read it by.
 */
export async function startRecorder(s, name, sampleExpr) {
  // The expression is pasted into the script text: the page's CSP forbids eval/new Function, but
  // WebDriver's own scripts are exempt.
  await s.exec(
    `const [name] = arguments;
     window.__e2e = window.__e2e || {};
     const rec = { samples: [], t0: performance.now() };
     const sample = () => (${sampleExpr});
     let last = null;
     const take = () => {
       let v; try { v = sample(); } catch (e) { v = 'ERR ' + e.message; }
       const k = JSON.stringify(v);
       if (k !== last) { last = k; rec.samples.push({ t: Math.round(performance.now() - rec.t0), v }); }
     };
     if (window.__e2e[name]) window.__e2e[name].obs.disconnect();
     rec.obs = new MutationObserver(take);
     rec.obs.observe(document.documentElement, { subtree: true, childList: true, characterData: true, attributes: true });
     take();
     window.__e2e[name] = rec;`,
    name,
  );
}

export async function readRecorder(s, name, stop = false) {
  return s.exec(
    `const rec = (window.__e2e || {})[arguments[0]];
     if (!rec) return null;
     if (arguments[1]) rec.obs.disconnect();
     return rec.samples;`,
    name,
    stop,
  );
}

/** Waits two animation frames so that a screenshot shows the current DOM. */
export async function settle(s, ms = 150) {
  try {
    await s.execAsync(
      "await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));",
    );
  } catch {
    // ignore
  }
  await sleep(ms);
}

export async function shot(s, name) {
  await settle(s);
  const file = await s.screenshot(name);
  if (file) console.log(`# screenshot: ${file}`);
  return file;
}
