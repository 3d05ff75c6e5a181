// End-to-end tests of the real SmolVLM Desktop binary under Xvfb, driven by WebKitWebDriver.
// Run through scripts/e2e.sh, which starts the display, the driver, a local test hub and sets an
// isolated HOME/XDG dirs. The tests share one app data dir and run in order: each builds on the
// state the previous one left (a loaded model, a conversation, ...). Where an earlier step failed,
// a later one sets up what it needs through the backend's commands (and says so), so that one
// missing UI piece does not hide the state of the others.
//
// Selectors are the `data-testid`s of docs/app.md.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { mkdirSync, writeFileSync } from "node:fs";

import {
  drop,
  env,
  invoke,
  launch,
  probeDropRoute,
  readRecorder,
  shot,
  sleep,
  startRecorder,
  tid,
  writePng,
} from "./lib/app.mjs";

let s; // the current WebDriver session (= one run of the app)
const ctx = {
  modelReady: false,
  images: [],
  question: "What do these two pictures show?",
  downloaded: null,
};

after(async () => {
  if (s) {
    await shot(s, "final");
    await s.quit();
  }
});

// ---- helpers ------------------------------------------------------------------------------

async function text(selector) {
  const els = await s.query(selector);
  return els.length ? els.map((e) => e.text).join(" | ") : null;
}

async function modelStatus() {
  return (await text(tid("model-status"))) ?? "";
}

const ASSISTANT = `${tid("message")}[data-role="assistant"]`;

/** The last assistant message: {status, text, len} or null. */
async function lastAnswer() {
  return s.exec(
    `const all = document.querySelectorAll(arguments[0]);
     const m = all[all.length - 1];
     if (!m) return null;
     const t = m.querySelector('[data-testid="message-text"]') ?? m;
     return { status: m.getAttribute('data-status'), text: t.textContent, len: t.textContent.length,
              count: all.length };`,
    ASSISTANT,
  );
}

/** Readies the backend by command when the UI could not (so later tests can still run). */
async function ensureModelReady() {
  if (ctx.modelReady) return;
  const st = await invoke(s, "model_status");
  if (st.state !== "ready") {
    console.log("# precondition: loading the model by dropping its folder");
    await drop(s, [env.fixture]); // load_model takes only a path handed over: dropped, as a user does
  }
  await s.waitFor("model_status.state == ready", async () => (await invoke(s, "model_status")).state === "ready", {
    timeoutMs: 60_000,
  });
  ctx.modelReady = true;
}

/** Sets one setting through the settings dialog (input `setting-<key>`, else the input whose label
 * matches `labelRe`, then Save); through `save_settings` where the dialog cannot. Returns how. */
async function setSetting(key, n, labelRe) {
  if ((await s.query(tid("open-settings"))).length > 0) {
    await s.click(tid("open-settings"));
    const dlg = await s.waitForSelector(tid("settings"), { timeoutMs: 5000 }).catch(() => null);
    if (dlg) {
      const found = await s.exec(
        `const [key, re] = arguments;
         const dlg = document.querySelector('[data-testid="settings"]');
         dlg.querySelectorAll('[data-e2e]').forEach((e) => e.removeAttribute('data-e2e'));
         const byId = dlg.querySelector('[data-testid="setting-' + key + '"]');
         if (byId) { byId.setAttribute('data-e2e', 'setting'); return 'setting-' + key; }
         for (const input of dlg.querySelectorAll('input')) {
           const label = [input.labels ? Array.from(input.labels).map(l => l.textContent).join(' ') : '',
                          input.getAttribute('aria-label') ?? '', input.name ?? '', input.id ?? ''].join(' ');
           if (new RegExp(re, 'i').test(label)) { input.setAttribute('data-e2e', 'setting'); return label.trim(); }
         }
         return null;`,
        key,
        labelRe.source,
      );
      if (found) {
        await s.clear('[data-e2e="setting"]');
        await s.type('[data-e2e="setting"]', String(n));
        await s.exec(`document.querySelector('[data-e2e="setting"]').dispatchEvent(new Event('change', { bubbles: true }));`);
        await shot(s, `settings-${key}`);
        // Save: settings-save, else a button labelled so, else Escape.
        const clicked = await s.exec(
          `const dlg = document.querySelector('[data-testid="settings"]');
           const b = dlg.querySelector('[data-testid="settings-save"]') ?? Array.from(dlg.querySelectorAll('button')).find(b => /save|apply|done|ok|close/i.test(b.textContent + ' ' + (b.getAttribute('aria-label') ?? '')));
           if (b) { b.click(); return b.textContent.trim() || b.getAttribute('aria-label'); }
           document.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
           return null;`,
        );
        console.log(`# settings: set "${found}" = ${n}, closed with ${clicked ?? "Escape"}`);
        const saved = await s
          .waitFor(`settings saved with ${key} = ${n}`, async () => (await invoke(s, "get_settings"))[key] === n, {
            timeoutMs: 5000,
          })
          .catch((e) => (console.log(`# ${e.message.split("\n")[0]}`), false));
        if (saved) return "ui";
      } else {
        console.log(`# the settings dialog has no input for ${key}`);
      }
    }
  } else {
    console.log("# no open-settings button yet");
  }
  try {
    const cur = await invoke(s, "get_settings");
    await invoke(s, "save_settings", { settings: { ...cur, [key]: n } });
    console.log(`# settings: ${key} = ${n} through save_settings`);
    return "command";
  } catch (e) {
    console.log(`# settings commands unavailable (${e.message}); the answer uses the defaults`);
    return null;
  }
}

/** Waits until at least `count` elements with testid `id` hold an <img> that has decoded. */
async function imagesDecoded(id, what, count = 2) {
  await s.waitFor(
    what,
    async () => {
      const imgs = await s.exec(
        `return Array.from(document.querySelectorAll('[data-testid="' + arguments[0] + '"]'))
           .map(e => e.tagName === 'IMG' ? e : e.querySelector('img'))
           .map(i => i ? { src: i.currentSrc || i.src, complete: i.complete, w: i.naturalWidth } : null);`,
        id,
      );
      if (imgs.length >= count && imgs.every((i) => i && i.complete && i.w > 0)) return true;
      throw new Error(`images: ${JSON.stringify(imgs)}`);
    },
    { timeoutMs: 10_000 },
  );
}

/** The id of a stored conversation whose user message has 2 images; made through the commands
 * (create_conversation, import_image when it exists, send_message) if the UI made none. */
async function conversationWithImages() {
  for (const c of await invoke(s, "list_conversations")) {
    const full = await invoke(s, "get_conversation", { id: c.id });
    if (full.messages.some((m) => m.role === "user" && m.images.length >= 2)) return c.id;
  }
  console.log("# precondition: making the conversation through the commands (the UI made none)");
  await ensureModelReady();
  if (ctx.images.length < 2) ctx.images = makeImages();
  const images = [];
  for (const p of ctx.images) {
    try {
      images.push((await invoke(s, "import_image", { path: p })).file);
    } catch {
      images.push(p); // before import_image existed, send_message took paths
    }
  }
  const conv = await invoke(s, "create_conversation", { title: null });
  await s.execAsync(
    `const [conversationId, text, images] = arguments;
     const I = window.__TAURI_INTERNALS__;
     const onEvent = '__CHANNEL__:' + I.transformCallback(() => {}, false);
     return await I.invoke('send_message', { conversationId, text, images, settings: { maxNewTokens: 16 }, onEvent });`,
    conv.id,
    ctx.question,
    images,
  );
  await s.waitFor("the command-made answer completes", async () => {
    const full = await invoke(s, "get_conversation", { id: conv.id });
    const last = full.messages[full.messages.length - 1];
    return last && last.role === "assistant" && last.status !== "streaming";
  }, { timeoutMs: 30_000 });
  return conv.id;
}

function makeImages() {
  mkdirSync(env.work, { recursive: true });
  return [
    writePng(join(env.work, "gradient-320x200.png"), 320, 200, (x, y) => [x % 256, y, 128]),
    writePng(join(env.work, "checker-120x300.png"), 120, 300, (x, y) =>
      ((x >> 4) + (y >> 4)) % 2 ? [240, 200, 40] : [30, 60, 200],
    ),
  ];
}

// ---- the tests ----------------------------------------------------------------------------

test("the app opens and its page is ready", async () => {
  s = await launch(); // polls document.readyState and waits for the IPC bridge
  const title = await s.cmd("GET", "/title");
  assert.match(title, /SmolVLM/);
  const info = await invoke(s, "app_info");
  assert.ok(info.dataDir.startsWith(process.env.HOME), `data dir ${info.dataDir} is not under the test HOME`);
  await shot(s, "start");
});

test("the page has the contract's main parts", async () => {
  assert.ok(s, "app not running");
  for (const id of ["app", "sidebar", "new-conversation", "model-status", "open-model-manager", "composer", "composer-input", "send"]) {
    await s.waitForSelector(tid(id), { timeoutMs: id === "app" ? 10_000 : 2000 });
  }
  await s.waitFor("model-status shows a state", async () => /empty|loading|ready|generating|no model/i.test(await modelStatus()));
});

test("a fresh data dir shows the first-run screen", async () => {
  assert.ok(s, "app not running");
  await s.waitForSelector(tid("first-run"), { timeoutMs: 5000 });
});

test("a drop event emitted from the page reaches a webview listener", async () => {
  assert.ok(s, "app not running");
  const got = await probeDropRoute(s);
  assert.ok(got, "the webview-targeted tauri://drag-drop listener got nothing");
  assert.deepEqual(got.paths, ["/nonexistent/e2e-probe"]);
});

test("dropping the tiny model folder loads it and the status reaches ready", async () => {
  assert.ok(s, "app not running");
  await drop(s, [env.fixture]);
  await s.waitFor(
    "model-status: loading or ready after the drop",
    async () => /loading|ready/i.test(await modelStatus()),
    { timeoutMs: 10_000 },
  );
  const status = await s.waitFor(
    "model-status: ready",
    async () => {
      const t = await modelStatus();
      return /ready/i.test(t) ? t : null;
    },
    { timeoutMs: 60_000 },
  );
  assert.match(status, /cpu|cuda|metal/i, `model-status should name the device: ${status}`);
  ctx.modelReady = true;
  // The folder is remembered as a local model.
  const locals = await invoke(s, "list_local_models").catch(() => null);
  if (locals) assert.ok(locals.some((m) => m.path.includes("tiny-smolvlm")), JSON.stringify(locals));
  // The "Added …; loading it" notice must not cover the composer (it did, over Send, at 1000 px).
  const covered = await s.exec(
    `const box = document.querySelector("[data-testid=composer-input]")?.closest(".composer-box");
     const toasts = Array.from(document.querySelectorAll(".toast"));
     if (!box || toasts.length === 0) return null;
     const a = box.getBoundingClientRect();
     return toasts.some((t) => { const b = t.getBoundingClientRect();
       return b.left < a.right && b.right > a.left && b.top < a.bottom && b.bottom > a.top; });`,
  );
  if (covered === null) console.log("# no notice on screen to check against the composer");
  else assert.equal(covered, false, "a notice covers the composer");
  await shot(s, "model-ready");
});

test("dropping a non-image shows a drop error", async () => {
  assert.ok(s, "app not running");
  await ensureModelReady();
  const txt = join(env.work, "notes.txt");
  writeFileSync(txt, "not an image\n");
  await drop(s, [txt]);
  await s.waitForSelector(tid("drop-error"), { timeoutMs: 5000 });
  await shot(s, "drop-error");
});

test("dropping two images shows their thumbnails and image cost in the composer", async () => {
  assert.ok(s, "app not running");
  await ensureModelReady();
  ctx.images = makeImages();
  await drop(s, ctx.images);
  await s.waitForSelector(tid("composer-image"), { count: 2, timeoutMs: 10_000 });
  // The thumbnails actually render (asset protocol, CSP).
  await imagesDecoded("composer-image", "both composer thumbnails decoded (img.naturalWidth > 0)");
  const cost = await s.waitFor(
    "image-cost shows tiles/tokens",
    async () => {
      const t = await text(tid("image-cost"));
      return t && /\d/.test(t) ? t : null;
    },
    { timeoutMs: 10_000 },
  );
  console.log(`# image-cost: ${cost}`);
  await shot(s, "composer-images");
});

test("a question streams its answer into the page, token by token", async () => {
  assert.ok(s, "app not running");
  await ensureModelReady();
  await s.waitForSelector(tid("composer-input"), { timeoutMs: 5000 });
  const before = (await lastAnswer())?.count ?? 0;
  await startRecorder(
    s,
    "answer",
    `(() => { const all = document.querySelectorAll('[data-testid="message"][data-role="assistant"]');
              const m = all[all.length - 1];
              if (!m || all.length <= ${before}) return null;
              const t = m.querySelector('[data-testid="message-text"]') ?? m;
              return [t.textContent.length, m.getAttribute('data-status'),
                      !!document.querySelector('[data-testid="tok-per-s"]'),
                      !!document.querySelector('[data-testid="ttft"]')]; })()`,
  );
  await s.type(tid("composer-input"), ctx.question);
  await s.click(tid("send"));
  // A mid-stream screenshot, if we are quick enough.
  await s
    .waitFor("the answer starts streaming", async () => {
      const a = await lastAnswer();
      return a && a.count > before && a.len > 0;
    }, { timeoutMs: 30_000, intervalMs: 20 })
    .then(() => shot(s, "streaming"));
  const done = await s.waitFor(
    "the answer is complete (data-status=complete)",
    async () => {
      const a = await lastAnswer();
      return a && a.count > before && /complete|done/.test(a.status ?? "") ? a : null;
    },
    { timeoutMs: 60_000 },
  );
  const samples = (await readRecorder(s, "answer", true)).filter((x) => x.v);
  const lengths = [...new Set(samples.map((x) => x.v[0]))];
  console.log(`# answer: ${done.len} chars; text lengths seen while streaming: ${lengths.join(", ")}`);
  console.log(`# answer statuses seen: ${[...new Set(samples.map((x) => x.v[1]))].join(", ")}`);
  await shot(s, "answer-done");
  assert.ok(done.len > 0, "the answer is empty");
  const growing = lengths.filter((l) => l > 0 && l < done.len);
  assert.ok(growing.length >= 2, `the answer did not grow across updates (lengths ${lengths.join(", ")})`);
  // (Not asserted monotonic: the answer is re-rendered as markdown, so the text can shrink when
  // a `*` pair becomes emphasis.)
  // The rest is checked together, so that one failure does not hide the others.
  const problems = [];
  const user = await s.exec(
    `const all = document.querySelectorAll('[data-testid="message"][data-role="user"]');
     const m = all[all.length - 1];
     if (!m) return null;
     m.scrollIntoView({ block: 'start' });
     const imgs = Array.from(m.querySelectorAll('[data-testid="message-image"]'))
       .map(e => e.tagName === 'IMG' ? e : e.querySelector('img'))
       .map(i => i ? { src: i.currentSrc || i.src, w: i.naturalWidth, complete: i.complete } : null);
     return { text: m.textContent, imgs };`,
  );
  if (!user) problems.push("no user message");
  else {
    if (!user.text.includes(ctx.question)) problems.push(`the user message lacks the question: ${user.text}`);
    if (user.imgs.length !== 2) problems.push(`the sent message shows ${user.imgs.length} message-image thumbnails, not 2`);
    else if (!user.imgs.every((i) => i && i.complete && i.w > 0))
      problems.push(`the sent message's thumbnails do not render: ${JSON.stringify(user.imgs)}`);
  }
  if ((await s.query(tid("composer-image"))).length !== 0) problems.push("composer-image thumbnails remain after sending");
  if (!(samples.some((x) => x.v[2]) && samples.some((x) => x.v[3])))
    problems.push("tok-per-s and ttft stats never appeared on the streaming answer");
  await shot(s, "sent-message");
  assert.deepEqual(problems, []);
});

test("Stop cancels a long answer mid-stream", async () => {
  assert.ok(s, "app not running");
  await ensureModelReady();
  await s.waitForSelector(tid("composer-input"), { timeoutMs: 5000 });
  const how = await setSetting("maxNewTokens", 4000, /max.*tok|new.*tok/);
  const before = (await lastAnswer())?.count ?? 0;
  await s.type(tid("composer-input"), "Tell me a very long story.");
  await s.click(tid("send"));
  await s.waitFor(
    "the long answer is streaming",
    async () => {
      const a = await lastAnswer();
      return a && a.count > before && a.len > 0;
    },
    { timeoutMs: 30_000, intervalMs: 20 },
  );
  await s.waitForSelector(tid("stop"), { timeoutMs: 5000 });
  await shot(s, "long-answer-streaming");
  await s.click(tid("stop"));
  const a = await s.waitFor(
    "the answer is cancelled (data-status=cancelled)",
    async () => {
      const a = await lastAnswer();
      return a && a.count > before && a.status === "cancelled" ? a : null;
    },
    { timeoutMs: 15_000 },
  );
  // The stored message may replace the live one once (with the last flushed tokens); after that
  // nothing may change.
  await sleep(500);
  const settled = await lastAnswer();
  await sleep(700);
  const later = await lastAnswer();
  assert.equal(later.len, settled.len, "the text kept growing after Stop");
  assert.equal(later.status, "cancelled");
  await s.waitFor("model-status back to ready", async () => /ready/i.test(await modelStatus()), { timeoutMs: 10_000 });
  console.log(`# stopped after ${a.len} chars (max-new-tokens set through: ${how})`);
  await shot(s, "cancelled");
  if (how) await setSetting("maxNewTokens", 512, /max.*tok|new.*tok/).catch(() => {});
});

test("after a restart the last model loads by itself and the conversation is in the sidebar with its thumbnails", async () => {
  assert.ok(s, "app not running");
  const id = await conversationWithImages();
  const last = (await invoke(s, "get_settings")).lastModel;
  assert.ok(last, "no lastModel recorded before the restart");
  await s.quit();
  s = null;
  await sleep(500);
  s = await launch();
  const stored = await invoke(s, "list_conversations");
  assert.ok(stored.some((c) => c.id === id), `the backend lost conversation ${id} across the restart`);
  // The last session's model loads by itself at startup.
  const auto = await s.waitFor(
    "the last model loads at startup",
    async () => {
      const st = await invoke(s, "model_status");
      return st.state === "ready" || (st.state === "empty" && st.lastError) ? st : null;
    },
    { timeoutMs: 60_000 },
  );
  assert.equal(auto.state, "ready", `auto-load ended in ${JSON.stringify(auto)}`);
  assert.equal(auto.model.path, last, "a different model loaded at startup");
  ctx.modelReady = true;
  await s.waitForSelector(tid("sidebar"), { timeoutMs: 10_000 });
  await s.waitForSelector(`${tid("conversation-item")}[data-id="${id}"]`, { timeoutMs: 10_000 });
  await shot(s, "restarted");
  await s.click(`${tid("conversation-item")}[data-id="${id}"]`);
  await s.waitForSelector(tid("message-image"), { count: 2, timeoutMs: 10_000 });
  await imagesDecoded("message-image", "the restored thumbnails decoded (img.naturalWidth > 0)");
  const msgs = await text(tid("messages"));
  assert.ok(msgs.includes(ctx.question), "the restored conversation lacks the question");
  await shot(s, "restored-conversation");
});

test("the model manager downloads from the local hub with a progress bar reaching 100 %", async () => {
  assert.ok(s, "app not running");
  const hub = await invoke(s, "hub_status").catch((e) => ({ error: e.message }));
  console.log(`# hub_status: ${JSON.stringify(hub)}`);
  assert.equal(hub.endpoint, env.hub, "the app does not use the test hub (HF_ENDPOINT)");
  assert.equal(hub.offline, false, "the app thinks the test hub is offline");
  await s.waitForSelector(tid("open-model-manager"), { timeoutMs: 5000 });
  await s.click(tid("open-model-manager"));
  await s.waitForSelector(tid("model-manager"), { timeoutMs: 5000 });
  const items = await s.waitForSelector(`${tid("model-manager")} ${tid("catalog-item")}`, { timeoutMs: 10_000 });
  const id = items.find((i) => i.attrs["data-id"] === "smolvlm-256m-q8_0")
    ? "smolvlm-256m-q8_0"
    : items[0].attrs["data-id"];
  const item = `${tid("catalog-item")}[data-id="${id}"]`;
  await shot(s, "model-manager");
  await startRecorder(
    s,
    "progress",
    `(() => { const p = document.querySelector('${item} [data-testid="progress"]')
                     ?? document.querySelector('[data-testid="model-manager"] [data-testid="progress"]');
              return p ? [Number(p.value), Number(p.max)] : null; })()`,
  );
  await s.click(`${item} ${tid("download-button")}`);
  await s
    .waitForSelector(`${tid("model-manager")} ${tid("progress")}`, { timeoutMs: 10_000, visible: false })
    .then(() => shot(s, "downloading"));
  const installed = await s.waitFor(
    `catalog item ${id} listed as installed`,
    async () => {
      const [el] = await s.query(item);
      if (!el) return null;
      const hasDelete = (await s.query(`${item} ${tid("delete-model")}`)).length > 0;
      return /installed/i.test(el.text) || hasDelete ? el.text : null;
    },
    { timeoutMs: 60_000 },
  );
  const samples = (await readRecorder(s, "progress", true)).filter((x) => x.v);
  console.log(`# progress samples (value/max): ${samples.map((x) => `${x.v[0]}/${x.v[1]}`).join(" ")}`);
  console.log(`# item after download: ${installed}`);
  assert.ok(samples.length > 0, "no progress bar was seen");
  assert.ok(
    samples.some((x) => x.v[1] > 0 && x.v[0] === x.v[1]),
    "the progress bar never reached value == max",
  );
  const catalog = await invoke(s, "list_catalog");
  assert.ok(catalog.find((c) => c.id === id)?.installed, `list_catalog does not say ${id} is installed`);
  await shot(s, "downloaded");
  ctx.downloaded = id;
});

test("the downloaded model loads from the model manager", async () => {
  assert.ok(s && ctx.downloaded, "no downloaded model");
  const item = `${tid("catalog-item")}[data-id="${ctx.downloaded}"]`;
  // `load-model` is the UI's testid for it (not yet in docs/app.md); else a button labelled Load.
  const sel = await s.exec(
    `const item = document.querySelector(arguments[0]);
     if (!item) return null;
     let b = item.querySelector('[data-testid="load-model"]');
     if (!b) { b = Array.from(item.querySelectorAll('button')).find((x) => /^\\s*load\\b/i.test(x.textContent)); if (b) b.setAttribute('data-e2e', 'load'); }
     return b ? (b.dataset.testid === 'load-model' ? '[data-testid="load-model"]' : '[data-e2e="load"]') : null;`,
    item,
  );
  assert.ok(sel, `no Load button in catalog item ${ctx.downloaded}`);
  await s.click(`${item} ${sel}`);
  // Another model is ready already (the last one, loaded at startup): wait for this one.
  const status = await s.waitFor(
    "model-status: ready with the downloaded model",
    async () => {
      const st = await invoke(s, "model_status");
      return st.state === "ready" && /huggingface|models--/.test(st.model?.path ?? "") ? st : null;
    },
    { timeoutMs: 60_000 },
  );
  assert.match(status.model.path, /huggingface|models--/, `loaded ${status.model.path}`);
  await s.waitFor("model-status shows ready", async () => /ready/i.test(await modelStatus()));
  await shot(s, "downloaded-model-loaded");
});
