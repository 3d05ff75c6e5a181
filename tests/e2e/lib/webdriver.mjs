// A minimal W3C WebDriver client over Node's built-in fetch (undici keeps connections alive, which
// WebKitWebDriver and tauri-driver both want), plus the waits the E2E tests are written with.
// No dependencies.

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ELEMENT_KEY = "element-6066-11e4-a52e-4f735466cecf"; // W3C web element identifier

export class WebDriverError extends Error {
  constructor(method, path, status, value) {
    const v = value ?? {};
    super(`${method} ${path} -> HTTP ${status} ${v.error ?? ""}: ${v.message ?? JSON.stringify(v)}`);
    this.status = status;
    this.error = v.error;
  }
}

async function request(base, method, path, body, timeoutMs = 60_000) {
  const res = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { "Content-Type": "application/json; charset=utf-8" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { value: { error: "bad json", message: text.slice(0, 500) } };
  }
  if (!res.ok) throw new WebDriverError(method, path, res.status, json.value);
  return json.value;
}

/** Polls the driver's /status until it answers (it takes a moment to listen). */
export async function waitForDriver(base, timeoutMs = 20_000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      return await request(base, "GET", "/status", undefined, 2000);
    } catch (e) {
      last = e;
      await sleep(100);
    }
  }
  throw new Error(`WebDriver at ${base} did not answer within ${timeoutMs} ms: ${last}`);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class Session {
  /**
   * @param {string} base   e.g. http://127.0.0.1:4445
   * @param {object} opts   { binary, args, artifacts (folder for screenshots) }
   */
  static async start(base, { binary, args = [], artifacts, capabilities } = {}) {
    const caps = capabilities ?? {
      "webkitgtk:browserOptions": { binary, args },
    };
    const value = await request(
      base,
      "POST",
      "/session",
      { capabilities: { alwaysMatch: caps } },
      120_000,
    );
    const s = new Session(base, value.sessionId, artifacts);
    return s;
  }

  constructor(base, id, artifacts) {
    this.base = base;
    this.id = id;
    this.artifacts = artifacts;
    this.shots = 0;
  }

  cmd(method, path, body, timeoutMs) {
    return request(this.base, method, `/session/${this.id}${path}`, body, timeoutMs);
  }

  async quit() {
    try {
      await this.cmd("DELETE", "", undefined, 30_000);
    } catch {
      // The app may already have gone.
    }
  }

  // ---- scripts ----------------------------------------------------------------------------

  /** Runs `body` (a function body; `arguments[i]` are the args) in the page. */
  exec(body, ...args) {
    return this.cmd("POST", "/execute/sync", { script: body, args });
  }

  /** Runs an async function body; its returned promise's value comes back (rejections throw). */
  async execAsync(body, ...args) {
    const script = `const done = arguments[arguments.length - 1];
      const args = Array.prototype.slice.call(arguments, 0, -1);
      Promise.resolve().then(() => (async function () { ${body} }).apply(null, args))
        .then((v) => done({ ok: true, v: v === undefined ? null : v }),
              (e) => done({ ok: false, e: (e && (e.message || e.code)) ? JSON.stringify({code: e.code, message: e.message}) : String(e) }));`;
    const r = await this.cmd("POST", "/execute/async", { script, args });
    if (!r || !r.ok) throw new Error(`script failed: ${r ? r.e : "no result"}`);
    return r.v;
  }

  // ---- elements (by data-testid) ------------------------------------------------------------

  /** The state of every element matching `selector`: text, attributes, visibility. */
  query(selector) {
    return this.exec(
      `const els = Array.from(document.querySelectorAll(arguments[0]));
       return els.map((e) => {
         const r = e.getBoundingClientRect();
         const attrs = {};
         for (const a of e.attributes) attrs[a.name] = a.value;
         return { text: (e.innerText ?? e.textContent ?? "").trim(), attrs,
                  value: "value" in e ? e.value : null, max: "max" in e ? e.max : null,
                  disabled: !!e.disabled, visible: r.width > 0 && r.height > 0,
                  tag: e.tagName.toLowerCase() };
       });`,
      selector,
    );
  }

  async findElement(selector) {
    const v = await this.cmd("POST", "/element", { using: "css selector", value: selector });
    const id = v[ELEMENT_KEY] ?? v.ELEMENT;
    if (!id) throw new Error(`findElement ${selector}: unexpected answer ${JSON.stringify(v)}`);
    return id;
  }

  /** A real (WebDriver) click; where WebDriver refuses (obscured, not interactable) it says so
   * and clicks through the DOM instead, so the test can go on. An element the page re-rendered
   * between finding and clicking it (a list refreshed) is found again, a few times. */
  async click(selector, attempts = 3) {
    const id = await this.findElement(selector);
    try {
      await this.cmd("POST", `/element/${id}/click`, {});
    } catch (e) {
      if (e.error === "stale element reference" && attempts > 1) {
        await sleep(100);
        return this.click(selector, attempts - 1);
      }
      if (!/intercepted|not interactable/.test(e.error ?? "")) throw e;
      console.log(`# WebDriver could not click ${selector} (${e.error}); clicking through the DOM`);
      await this.jsClick(selector);
    }
  }

  /** Clicks through the DOM (works for elements WebDriver considers obscured). */
  async jsClick(selector) {
    const ok = await this.exec(
      `const e = document.querySelector(arguments[0]); if (!e) return false; e.click(); return true;`,
      selector,
    );
    if (!ok) throw new Error(`jsClick: no element ${selector}`);
  }

  async type(selector, text) {
    const id = await this.findElement(selector);
    await this.cmd("POST", `/element/${id}/value`, { text });
  }

  async clear(selector) {
    const id = await this.findElement(selector);
    await this.cmd("POST", `/element/${id}/clear`, {});
  }

  // ---- diagnostics -------------------------------------------------------------------------

  async pageText() {
    try {
      return await this.exec(`return document.body ? document.body.innerText : "(no body)";`);
    } catch (e) {
      return `(page text unavailable: ${e.message})`;
    }
  }

  /** Saves a PNG of the window to artifacts/NN-name.png; returns its path (null on failure). */
  async screenshot(name) {
    if (!this.artifacts) return null;
    try {
      const b64 = await this.cmd("GET", "/screenshot", undefined, 30_000);
      mkdirSync(this.artifacts, { recursive: true });
      const n = String(++Session.shotCounter).padStart(2, "0");
      const file = join(this.artifacts, `${n}-${name.replace(/[^A-Za-z0-9_.-]+/g, "_")}.png`);
      writeFileSync(file, Buffer.from(b64, "base64"));
      return file;
    } catch (e) {
      console.error(`# screenshot ${name} failed: ${e.message}`);
      return null;
    }
  }

  /**
   * Polls `probe` (async, returns a truthy value when done) until it succeeds or `timeoutMs`
   * passes; then fails with `what`, the last probe value/error, the page's text and a screenshot.
   */
  async waitFor(what, probe, { timeoutMs = 15_000, intervalMs = 100 } = {}) {
    const end = Date.now() + timeoutMs;
    let last;
    let lastErr;
    for (;;) {
      try {
        last = await probe();
        lastErr = undefined;
        if (last) return last;
      } catch (e) {
        lastErr = e;
      }
      if (Date.now() > end) break;
      await sleep(intervalMs);
    }
    const shot = await this.screenshot(`FAIL-${what}`);
    const text = await this.pageText();
    throw new Error(
      `timed out after ${timeoutMs} ms waiting for: ${what}\n` +
        (lastErr ? `  last error: ${lastErr.message}\n` : `  last value: ${JSON.stringify(last)}\n`) +
        `  screenshot: ${shot}\n  page text:\n${indent(text)}`,
    );
  }

  /** Waits for at least `count` elements matching `selector` (visible unless `visible:false`). */
  waitForSelector(selector, { count = 1, visible = true, timeoutMs = 15_000 } = {}) {
    return this.waitFor(
      `${count}× ${selector}${visible ? " (visible)" : ""}`,
      async () => {
        const els = await this.query(selector);
        const ok = els.filter((e) => !visible || e.visible);
        return ok.length >= count ? ok : null;
      },
      { timeoutMs },
    );
  }

  /** A failure with the page's text and a screenshot attached. */
  async fail(message) {
    const shot = await this.screenshot(`FAIL-${message.slice(0, 40)}`);
    const text = await this.pageText();
    return new Error(`${message}\n  screenshot: ${shot}\n  page text:\n${indent(text)}`);
  }
}
Session.shotCounter = 0;

function indent(text) {
  const t = String(text ?? "");
  const clipped = t.length > 3000 ? t.slice(0, 3000) + "\n…(clipped)" : t;
  return clipped
    .split("\n")
    .map((l) => "    | " + l)
    .join("\n");
}

export const tid = (id) => `[data-testid="${id}"]`;
