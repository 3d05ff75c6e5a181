// End-to-end tests of the app's OpenAI-compatible openings, run after app.test.mjs in the same
// data dir (scripts/e2e.sh; it sets up what it needs, so it also runs alone): the local API served
// from the Settings (called from here with fetch), and a second server (`smolvlm serve`, started
// here) added as a connection that answers the chat.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { mkdirSync } from "node:fs";

import { drop, env, invoke, launch, readRecorder, shot, sleep, startRecorder, tid, writePng } from "./lib/app.mjs";
import { Session } from "./lib/webdriver.mjs";

const ROOT = resolve(import.meta.dirname, "../..");
const CLI = process.env.SMOLVLM_E2E_CLI ?? join(ROOT, "target/debug/smolvlm");

// Screenshots 50 and on: this file runs in a process of its own, after app.test.mjs's (01-…).
Session.shotCounter = 49;

let s; // the WebDriver session (= the app)
let second = null; // the `smolvlm serve` process
const ctx = { apiUrl: null, secondUrl: null, answered: false };

after(async () => {
  if (second && second.exitCode === null) second.kill("SIGTERM");
  if (s) {
    await shot(s, "api-final");
    await s.quit();
  }
});

// ---- helpers ------------------------------------------------------------------------------

const ASSISTANT = `${tid("message")}[data-role="assistant"]`;

/** A port nothing listens on right now. */
function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

/** A listener holding a port (so that the app cannot have it). */
function holdPort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, "127.0.0.1", () => ok(srv));
  });
}

async function ensureModelReady() {
  const st = await invoke(s, "model_status");
  if (st.state !== "ready") {
    console.log("# precondition: loading the tiny model by dropping its folder");
    await drop(s, [env.fixture]); // load_model takes only a path handed over: dropped, as a user does
  }
  await s.waitFor("model_status.state == ready", async () => (await invoke(s, "model_status")).state === "ready", {
    timeoutMs: 60_000,
  });
}

async function openSettings() {
  await s.click(tid("open-settings"));
  await s.waitForSelector(tid("settings"), { timeoutMs: 5000 });
}

async function closeSettings() {
  if ((await s.query(`${tid("settings")}[open]`)).length === 0) return;
  await s.click(tid("settings-cancel"));
  await s.waitFor("the settings dialog closed", async () => (await s.query(`${tid("settings")}[open]`)).length === 0, {
    timeoutMs: 5000,
  });
}

async function fill(id, value) {
  await s.clear(tid(id));
  if (value !== "") await s.type(tid(id), String(value));
  await s.exec(`document.querySelector(arguments[0]).dispatchEvent(new Event('input', { bubbles: true }));`, tid(id));
}

async function setChecked(id, checked) {
  const now = await s.exec(`return document.querySelector(arguments[0]).checked;`, tid(id));
  if (now !== checked) await s.click(tid(id));
}

/** Chooses `value` in a <select> (as a user's pick does: value, then `change`). */
async function choose(id, value) {
  const ok = await s.exec(
    `const el = document.querySelector(arguments[0]);
     if (!el || !Array.from(el.options).some((o) => o.value === arguments[1])) return false;
     el.value = arguments[1];
     el.dispatchEvent(new Event('change', { bubbles: true }));
     return true;`,
    tid(id),
    value,
  );
  assert.ok(ok, `${id} has no option ${value}`);
}

async function statusLine() {
  const [el] = await s.query(tid("local-api-status"));
  return el?.text ?? "";
}

/** The last assistant message: status, text, who answered, its error. */
async function lastAnswer() {
  return s.exec(
    `const all = document.querySelectorAll(arguments[0]);
     const m = all[all.length - 1];
     if (!m) return null;
     const t = m.querySelector('[data-testid="message-text"]');
     const by = m.querySelector('[data-testid="answered-by"]');
     const err = m.querySelector('[data-testid="message-error"]');
     return { status: m.getAttribute('data-status'), text: t ? t.textContent : '', len: t ? t.textContent.length : 0,
              by: by ? by.textContent : null, byHtml: by ? by.innerHTML : null, error: err ? err.textContent : null,
              count: all.length };`,
    ASSISTANT,
  );
}

/** Starts `smolvlm serve` on a free port; resolves to its `http://ADDR` once it listens. */
function startSecondServer() {
  return new Promise((ok, fail) => {
    const child = spawn(CLI, ["serve", "--model", env.fixture, "--port", "0"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    second = child;
    let out = "";
    let err = "";
    const timer = setTimeout(() => fail(new Error(`smolvlm serve did not listen within 90 s\nstdout: ${out}\nstderr: ${err.slice(-2000)}`)), 90_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`smolvlm serve exited (${code ?? signal}) before listening\nstderr: ${err.slice(-2000)}`));
    });
    child.once("error", (e) => {
      clearTimeout(timer);
      fail(e);
    });
  });
}

async function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return true;
  return Promise.race([new Promise((r) => child.once("exit", () => r(true))), sleep(ms).then(() => false)]);
}

// ---- the tests ----------------------------------------------------------------------------

test("the app starts again with a model", async () => {
  s = await launch();
  await ensureModelReady();
});

test("the Settings turn the local API on; it answers /v1/models and a chat completion", async () => {
  assert.ok(s, "app not running");
  const port = await freePort();
  await openSettings();
  await s.waitForSelector(tid("local-api-section"), { timeoutMs: 2000 });
  await s.waitFor("the status line says the API is off", async () => /^Off/.test(await statusLine()));
  await setChecked("setting-localApi-enabled", true);
  await fill("setting-localApi-host", "127.0.0.1");
  await fill("setting-localApi-port", port);
  await s.click(tid("settings-save"));
  const expected = `http://127.0.0.1:${port}/v1`;
  const line = await s.waitFor("the status line says where it serves", async () => {
    const t = await statusLine();
    return t.startsWith("Serving at") ? t : null;
  }, { timeoutMs: 15_000 });
  assert.equal(line, `Serving at ${expected}`);
  ctx.apiUrl = expected;
  const hint = (await s.query(tid("local-api-hint")))[0]?.text ?? "";
  assert.ok(hint.startsWith(`curl ${expected}/chat/completions`), `the curl hint: ${hint}`);
  assert.equal((await s.query(tid("local-api-copy")))[0]?.visible, true, "no copy button beside the address");
  await s.exec(`document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });`, tid("local-api-status"));
  await shot(s, "settings-local-api-serving");
  assert.equal((await invoke(s, "get_settings")).localApi.enabled, true);
  assert.deepEqual(await invoke(s, "local_api_status"), { running: true, url: expected, error: null });

  const models = await fetch(`${expected}/models`, { signal: AbortSignal.timeout(10_000) });
  assert.equal(models.status, 200);
  const list = await models.json();
  console.log(`# GET /v1/models: ${JSON.stringify(list).slice(0, 300)}`);
  assert.equal(list.object, "list");
  assert.ok(list.data.length > 0, "no models listed");
  const res = await fetch(`${expected}/chat/completions`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "Say hello." }], max_tokens: 4, temperature: 0 }),
    signal: AbortSignal.timeout(60_000),
  });
  const body = await res.text();
  assert.equal(res.status, 200, body);
  const completion = JSON.parse(body);
  console.log(`# POST /v1/chat/completions: ${body.slice(0, 400)}`);
  assert.equal(completion.object, "chat.completion");
  assert.equal(completion.choices.length, 1);
  assert.equal(completion.choices[0].message.role, "assistant");
  assert.equal(typeof completion.choices[0].message.content, "string");
  assert.ok(completion.usage.completion_tokens >= 1 && completion.usage.completion_tokens <= 4, JSON.stringify(completion.usage));
});

test("a port in use is reported on the status line; turning the API off stops it", async () => {
  assert.ok(s && ctx.apiUrl, "the local API did not start");
  const holder = await holdPort();
  try {
    const taken = holder.address().port;
    await fill("setting-localApi-port", taken);
    await s.click(tid("settings-save"));
    const line = await s.waitFor("the status line reports the taken port", async () => {
      const t = await statusLine();
      return t.startsWith("Not serving") ? t : null;
    }, { timeoutMs: 15_000 });
    console.log(`# status line: ${line}`);
    const st = await invoke(s, "local_api_status");
    assert.equal(st.running, false);
    assert.ok(st.error, "no error in local_api_status");
    assert.equal(line, `Not serving: ${st.error.message}`);
    await shot(s, "settings-local-api-port-taken");
  } finally {
    holder.close();
  }
  await setChecked("setting-localApi-enabled", false);
  await s.click(tid("settings-save"));
  await s.waitFor("the status line says off", async () => /^Off/.test(await statusLine()), { timeoutMs: 15_000 });
  assert.equal((await invoke(s, "local_api_status")).running, false);
  await assert.rejects(fetch(`${ctx.apiUrl}/models`, { signal: AbortSignal.timeout(3000) }), "the old address still answers");
  await closeSettings();
});

test("a second server added as a connection answers the chat without a local model", async () => {
  assert.ok(s, "app not running");
  const addr = await startSecondServer();
  ctx.secondUrl = `${addr}/v1`;
  console.log(`# second server: ${ctx.secondUrl}`);
  await openSettings();
  await fill("connection-name", "Second");
  await fill("connection-url", ctx.secondUrl);
  await s.click(tid("connection-add"));
  await s.waitForSelector(`${tid("connection-item")}[data-id="second"]`, { timeoutMs: 2000 });
  await choose("setting-backend", "second");
  await s.exec(`document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });`, tid("connections-section"));
  await shot(s, "settings-connections");
  await s.click(tid("settings-save"));
  await s.waitFor("the settings dialog closed after saving", async () => (await s.query(`${tid("settings")}[open]`)).length === 0, {
    timeoutMs: 5000,
  });
  const saved = await invoke(s, "get_settings");
  assert.equal(saved.backend, "second");
  assert.deepEqual(saved.connections.map((c) => [c.id, c.name, c.baseUrl]), [["second", "Second", ctx.secondUrl]]);

  // No model here: the connection must be the one answering.
  await invoke(s, "unload_model");
  await s.waitFor("model-status: empty", async () => /empty/i.test((await s.query(tid("model-status")))[0]?.text ?? ""), {
    timeoutMs: 10_000,
  });
  const backend = await s.waitFor("the status bar says who answers", async () => {
    const t = (await s.query(tid("answering-with")))[0]?.text ?? "";
    return /Second/.test(t) ? t : null;
  });
  console.log(`# answering-with: ${backend}`);

  await s.click(tid("new-conversation"));
  mkdirSync(env.work, { recursive: true });
  const img = writePng(join(env.work, "stripes-200x120.png"), 200, 120, (x) => (x >> 3) % 2 ? [220, 40, 40] : [20, 20, 20]);
  await drop(s, [img]);
  await s.waitForSelector(`${tid("composer-image")}[data-status="ready"]`, { timeoutMs: 10_000 });
  const question = "What colours are these stripes?";
  await s.type(tid("composer-input"), question);
  await s.waitFor("Send is enabled with no model loaded", async () => (await s.query(tid("send")))[0]?.disabled === false, {
    timeoutMs: 5000,
  });
  const before = (await lastAnswer())?.count ?? 0;
  await startRecorder(
    s,
    "remote",
    `(() => { const all = document.querySelectorAll('[data-testid="message"][data-role="assistant"]');
              const m = all[all.length - 1];
              if (!m || all.length <= ${before}) return null;
              const t = m.querySelector('[data-testid="message-text"]');
              return [t ? t.textContent.length : 0, m.getAttribute('data-status')]; })()`,
  );
  await s.click(tid("send"));
  await s
    .waitFor("the remote answer starts streaming", async () => {
      const a = await lastAnswer();
      return a && a.count > before && a.len > 0;
    }, { timeoutMs: 60_000, intervalMs: 20 })
    .then(() => shot(s, "remote-streaming"));
  const done = await s.waitFor("the remote answer completes", async () => {
    const a = await lastAnswer();
    if (a && a.count > before && a.status === "error") throw new Error(`the answer failed: ${a.error}`);
    return a && a.count > before && a.status === "complete" ? a : null;
  }, { timeoutMs: 120_000 });
  const samples = (await readRecorder(s, "remote", true)).filter((x) => x.v);
  const lengths = [...new Set(samples.map((x) => x.v[0]))];
  console.log(`# remote answer: ${done.len} chars, by ${JSON.stringify(done.by)}; lengths seen: ${lengths.join(", ")}`);
  await shot(s, "remote-answer-done");
  await s.exec(
    `const all = document.querySelectorAll('[data-testid="answered-by"]');
     all[all.length - 1]?.closest('[data-testid="message"]')?.scrollIntoView({ block: 'start' });`,
  );
  await shot(s, "remote-answer-label");
  assert.ok(done.len > 0, "the answer is empty");
  assert.ok(samples.some((x) => x.v[1] === "streaming" && x.v[0] > 0 && x.v[0] < done.len),
    `the answer never showed part of its text while streaming (lengths ${lengths.join(", ")})`);
  assert.equal(done.by, "Second", "the answer does not say Second answered it");
  assert.equal(done.byHtml, "Second", "the label is not plain text");
  // Stored so: the label survives a reload of the conversation.
  const convs = await invoke(s, "list_conversations");
  const conv = await invoke(s, "get_conversation", { id: convs.sort((a, b) => b.updatedMs - a.updatedMs)[0].id });
  const last = conv.messages[conv.messages.length - 1];
  assert.equal(last.role, "assistant");
  assert.equal(last.answeredBy, "Second");
  assert.equal(last.status, "complete");
  const user = conv.messages[conv.messages.length - 2];
  assert.equal(user.text, question);
  assert.equal(user.images.length, 1);
  ctx.answered = true;
});

test("when the connection's server is gone, the answer says so and the question stays", async () => {
  assert.ok(s && second, "no second server");
  second.kill("SIGTERM");
  assert.ok(await waitExit(second, 15_000), "smolvlm serve did not exit on SIGTERM");
  console.log(`# second server exited: ${second.exitCode ?? second.signalCode}`);
  const before = (await lastAnswer())?.count ?? 0;
  const question = "Are you still there?";
  await s.type(tid("composer-input"), question);
  await s.click(tid("send"));
  const failed = await s.waitFor("the answer fails with the connection's error", async () => {
    const a = await lastAnswer();
    return a && a.count > before && a.status === "error" && a.error ? a : null;
  }, { timeoutMs: 30_000 });
  console.log(`# error shown: ${failed.error}`);
  assert.match(failed.error, /Second/, "the error does not name the connection");
  assert.match(failed.error, /remote_connect/);
  assert.match(failed.error, /Settings → Connections/, "no hint what to do");
  const users = await s.exec(
    `return Array.from(document.querySelectorAll('[data-testid="message"][data-role="user"] [data-testid="message-text"]')).map((e) => e.textContent);`,
  );
  assert.equal(users[users.length - 1], question, "the question is not shown");
  // Nothing typed is lost: the question is stored, and Regenerate asks it again.
  await s.waitForSelector(tid("regenerate"), { timeoutMs: 10_000 });
  const stored = await invoke(s, "list_conversations");
  const conv = await invoke(s, "get_conversation", { id: stored.sort((a, b) => b.updatedMs - a.updatedMs)[0].id });
  assert.deepEqual(conv.messages.slice(-2).map((m) => [m.role, m.status, m.text || m.error?.code]),
    [["user", "complete", question], ["assistant", "error", "remote_connect"]]);
  await shot(s, "remote-error");

  // Back to this computer through the Settings: the chat says so.
  await openSettings();
  await choose("setting-backend", "");
  await s.click(tid("settings-save"));
  await s.waitFor("backend back to this computer", async () => (await invoke(s, "get_settings")).backend === null, { timeoutMs: 5000 });
  const t = await s.waitFor("the status bar says this computer answers", async () => {
    const x = (await s.query(tid("answering-with")))[0]?.text ?? "";
    return /This computer/.test(x) ? x : null;
  });
  console.log(`# answering-with: ${t}`);
});
