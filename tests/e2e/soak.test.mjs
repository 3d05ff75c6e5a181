// The soak: a long scripted session through the real app (the tiny fixture model), as a user
// spends an afternoon with it. Run by scripts/soak.sh (defaults: 200 turns over 120 minutes);
// not part of scripts/e2e.sh's default files.
//
// Every turn goes through the UI as a person would do it: typing in the composer and Send, with
// images dropped onto the window (fresh pictures, so the image store grows as it would), Remove on
// a dropped image before sending, Regenerate, Edit and resend, New chat, Delete in the sidebar;
// model switches between the dropped folder and a catalog model from the model manager, whose
// download is started, cancelled and resumed there, and deleted and fetched again next cycle; one
// message far past the model's context window, then mended with Edit and resend.
//
// Sampled every SOAK_SAMPLE_S seconds: resident memory of the app process and of its WebKit
// children, the app's open file descriptors, the image store's file count. After each turn: the
// IPC round trip of trivial commands (`app_info`, `model_status`). At the end: the slopes of
// memory and descriptors after the warm-up (least squares, per hour), the image store against
// what the conversations name, and every conversation opened. Figures go to
// target/e2e-artifacts/soak.json and the log.
//
// Asserted: every answer finishes (complete, or the context error where it is meant to be); the
// context error is the actionable `prompt_too_long` message; after the warm-up the descriptors
// grow by at most SOAK_MAX_FD_GROWTH and the app's memory by at most SOAK_MAX_RSS_MIB_PER_H; no
// stored image is left that no conversation names; every conversation opens; IPC p95 under
// SOAK_MAX_IPC_P95_MS.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";

import { drop, env, invoke, launch, shot, sleep, tid, writePng } from "./lib/app.mjs";

const num = (name, dflt) => Number(process.env[name] ?? dflt);
const TURNS = num("SOAK_TURNS", 200);
const MINUTES = num("SOAK_MINUTES", 120);
const SAMPLE_S = num("SOAK_SAMPLE_S", 30);
const WARMUP = num("SOAK_WARMUP", 0.2); // the first fifth of the run is left out of the slopes
const MAX_FD_GROWTH = num("SOAK_MAX_FD_GROWTH", 8);
const MAX_RSS_MIB_PER_H = num("SOAK_MAX_RSS_MIB_PER_H", 32);
const MAX_IPC_P95_MS = num("SOAK_MAX_IPC_P95_MS", 250);
const MAX_NEW_TOKENS = num("SOAK_MAX_NEW_TOKENS", 48);
const CATALOG_ID = process.env.SOAK_CATALOG_ID ?? "smolvlm-256m-q8_0";

let s;
const log = (m) => console.log(`# ${m}`);
const ASSISTANT = `${tid("message")}[data-role="assistant"]`;
const USER = `${tid("message")}[data-role="user"]`;

const run = {
  t0: Date.now(),
  samples: [], // {t (s), turn, appKiB, webKiB, fds, images}
  ipcMs: [],
  turns: [], // {turn, kind, ms, status}
  events: [],
  downloads: { started: 0, cancelled: 0, resumed: 0, completed: 0, deleted: 0 },
  switches: 0,
  contextError: null,
};

after(async () => {
  if (s) {
    await shot(s, "soak-final").catch(() => {});
    await s.quit();
  }
});

// ---- the processes ----------------------------------------------------------------------------

function appPid() {
  const out = execFileSync("pgrep", ["-o", "-f", env.binary], { encoding: "utf8" }).trim();
  return Number(out.split("\n")[0]);
}

function rssKiB(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0; // exited meanwhile
  }
}

function children(pid) {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" })
      .trim()
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

let imagesDir = null;

function sample(turn) {
  const pid = appPid();
  const web = children(pid).reduce((a, c) => a + rssKiB(c), 0);
  run.samples.push({
    t: (Date.now() - run.t0) / 1000,
    turn,
    appKiB: rssKiB(pid),
    webKiB: web,
    fds: readdirSync(`/proc/${pid}/fd`).length,
    images: imagesDir ? readdirSync(imagesDir).length : 0,
  });
}

// ---- statistics -------------------------------------------------------------------------------

function quantiles(xs) {
  const a = [...xs].sort((x, y) => x - y);
  const q = (p) => a[Math.min(a.length - 1, Math.max(0, Math.ceil(p * a.length) - 1))];
  const r = (v) => Math.round(v * 100) / 100;
  return { n: a.length, p50: r(q(0.5)), p95: r(q(0.95)), p99: r(q(0.99)), max: r(a[a.length - 1]) };
}

/** Least-squares slope of y over t (seconds), per hour. */
function slopePerHour(points) {
  const n = points.length;
  if (n < 3) return 0;
  const mt = points.reduce((a, p) => a + p.t, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  const num = points.reduce((a, p) => a + (p.t - mt) * (p.y - my), 0);
  const den = points.reduce((a, p) => a + (p.t - mt) ** 2, 0);
  return den === 0 ? 0 : (num / den) * 3600;
}

// ---- UI steps ---------------------------------------------------------------------------------

async function answers() {
  return s.exec(
    `return Array.from(document.querySelectorAll(arguments[0])).map((m) => ({
       id: m.getAttribute('data-id'), status: m.getAttribute('data-status'),
       error: m.querySelector('.msg-error, [data-testid="message-error"]')?.textContent ?? null }));`,
    ASSISTANT,
  );
}

/** Waits until the last answer is a settled one other than `previousId`; returns it. */
async function settledAnswer(previousId, what) {
  return s.waitFor(
    what,
    async () => {
      const all = await answers();
      const a = all[all.length - 1];
      if (!a || a.id === previousId || a.status === "streaming" || a.status === null) return null;
      return a;
    },
    { timeoutMs: 120_000, intervalMs: 50 },
  );
}

async function lastAnswerId() {
  const all = await answers();
  return all.length ? all[all.length - 1].id : null;
}

async function ready() {
  await s.waitFor("the model is ready", async () => (await invoke(s, "model_status")).state === "ready", {
    timeoutMs: 120_000,
  });
}

async function dropImages(paths) {
  const before = (await s.query(tid("composer-image"))).length;
  await drop(s, paths);
  await s.waitForSelector(tid("composer-image"), { count: before + paths.length, timeoutMs: 30_000 });
}

let picture = 0;
function freshImages(n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const k = picture++;
    const w = 64 + ((k * 37) % 200);
    const h = 64 + ((k * 53) % 160);
    out.push(writePng(join(env.work, `soak-${k}.png`), w, h, (x, y) => [(x * k) & 255, (y + k) & 255, (x ^ y) & 255]));
  }
  return out;
}

async function ask(text) {
  const prev = await lastAnswerId();
  await s.clear(tid("composer-input"));
  if (text.length > 500) {
    // A paste, not 10,000 key presses.
    await s.exec(
      `const i = document.querySelector('[data-testid="composer-input"]'); i.value = arguments[0];
       i.dispatchEvent(new Event('input', { bubbles: true }));`,
      text,
    );
  } else {
    await s.type(tid("composer-input"), text);
  }
  await s.click(tid("send"));
  return settledAnswer(prev, `the answer to "${text.slice(0, 40)}" settles`);
}

async function regenerate() {
  const prev = await lastAnswerId();
  // Only the last answer has the button.
  await s.exec(`const b = document.querySelectorAll('[data-testid="regenerate"]'); b[b.length - 1].click();`);
  return settledAnswer(prev, "the regenerated answer settles");
}

async function editLast(text) {
  const prev = await lastAnswerId();
  await s.exec(`const b = document.querySelectorAll('[data-testid="edit-message"]'); b[b.length - 1].click();`);
  await s.waitForSelector(tid("edit-input"), { timeoutMs: 10_000 });
  await s.exec(
    `const i = document.querySelector('[data-testid="edit-input"]'); i.value = arguments[0];
     i.dispatchEvent(new Event('input', { bubbles: true }));`,
    text,
  );
  await s.click(tid("edit-send"));
  return settledAnswer(prev, "the edited question's answer settles");
}

async function newConversation() {
  const before = (await invoke(s, "list_conversations")).length;
  await s.click(tid("new-conversation"));
  await s.waitForSelector(tid("composer-input"), { timeoutMs: 10_000 });
  return before;
}

async function deleteOldestConversation() {
  const list = await invoke(s, "list_conversations");
  if (list.length < 3) return false;
  const oldest = list[list.length - 1].id;
  const item = `${tid("conversation-item")}[data-id="${oldest}"]`;
  await s.exec(`document.querySelector(arguments[0])?.scrollIntoView({ block: 'center' });`, item);
  await s.jsClick(`${item} ${tid("conversation-delete")}`);
  await s.waitForSelector(tid("confirm-ok"), { timeoutMs: 5000 });
  await s.click(tid("confirm-ok"));
  await s.waitFor(`conversation ${oldest} is gone`, async () =>
    !(await invoke(s, "list_conversations")).some((c) => c.id === oldest),
  );
  return true;
}

/** Whether the model manager (a <dialog>, always in the page) is open. */
const managerOpen = () => s.exec(`return !!document.querySelector('[data-testid="model-manager"]')?.open;`);

async function openManager() {
  if (!(await managerOpen())) {
    await s.click(tid("open-model-manager"));
    await s.waitFor("the model manager opens", managerOpen, { timeoutMs: 10_000 });
  }
  await s.waitForSelector(`${tid("catalog-item")}[data-id="${CATALOG_ID}"]`, { timeoutMs: 20_000, visible: false });
  await s.exec(`document.querySelector(arguments[0])?.scrollIntoView({ block: 'center' });`, ITEM);
}

async function closeManager() {
  if (await managerOpen()) await s.click(tid("model-manager-close"));
  await s.waitFor("the model manager closes", async () => !(await managerOpen()), { timeoutMs: 10_000 });
}

const ITEM = `${tid("catalog-item")}[data-id="${CATALOG_ID}"]`;

async function catalogEntry() {
  return (await invoke(s, "list_catalog")).find((c) => c.id === CATALOG_ID);
}

/** Starts the catalog model's download in the model manager and cancels it there after ~1 s:
 * the partial must be kept. */
async function downloadAndCancel() {
  await openManager();
  await s.click(`${ITEM} ${tid("download-button")}`);
  run.downloads.started++;
  await s.waitForSelector(`${ITEM} ${tid("cancel-download")}`, { timeoutMs: 10_000 });
  await sleep(1000);
  await s.click(`${ITEM} ${tid("cancel-download")}`);
  const entry = await s.waitFor("the cancelled download leaves a partial", async () => {
    const c = await catalogEntry();
    return c && !c.installed && c.partialBytes > 0 && (await s.query(`${ITEM} ${tid("download-button")}`)).length > 0
      ? c
      : null;
  }, { timeoutMs: 20_000 });
  run.downloads.cancelled++;
  await closeManager();
  return entry.partialBytes;
}

/** Resumes it to the end, then loads it from the model manager. */
async function resumeAndLoad() {
  await openManager();
  await s.click(`${ITEM} ${tid("download-button")}`);
  run.downloads.resumed++;
  const entry = await s.waitFor("the resumed download completes", async () => {
    const c = await catalogEntry();
    return c?.installed ? c : null;
  }, { timeoutMs: 180_000, intervalMs: 250 });
  run.downloads.completed++;
  await s.waitForSelector(`${ITEM} ${tid("load-model")}`, { timeoutMs: 10_000 });
  await s.click(`${ITEM} ${tid("load-model")}`);
  await s.waitFor("the catalog model is the loaded one", async () => {
    const st = await invoke(s, "model_status");
    return st.state === "ready" && st.model?.path === entry.installedPath;
  }, { timeoutMs: 120_000 });
  run.switches++;
  await closeManager();
}

/** Back to the dropped fixture folder, then the catalog model's files go (Delete in the model
 * manager), so that the next cycle downloads it again. */
async function switchBackAndDelete() {
  await drop(s, [env.fixture]);
  await s.waitFor("the fixture folder is the loaded one", async () => {
    const st = await invoke(s, "model_status");
    return st.state === "ready" && st.model?.path === env.fixture;
  }, { timeoutMs: 120_000 });
  run.switches++;
  await openManager();
  await s.click(`${ITEM} ${tid("delete-model")}`);
  await s.waitForSelector(tid("confirm-ok"), { timeoutMs: 5000 });
  await s.click(tid("confirm-ok"));
  await s.waitFor("the catalog model's files are gone", async () => {
    const c = await catalogEntry();
    return c && !c.installed && c.partialBytes === 0;
  }, { timeoutMs: 20_000 });
  run.downloads.deleted++;
  await closeManager();
}

async function ipcProbe(n = 10) {
  const ms = await s.execAsync(
    `const I = window.__TAURI_INTERNALS__; const out = [];
     for (let i = 0; i < arguments[0]; i++) {
       const t = performance.now();
       await I.invoke(i % 2 ? 'model_status' : 'app_info', {});
       out.push(performance.now() - t);
     }
     return out;`,
    n,
  );
  run.ipcMs.push(...ms);
}

// ---- the session ------------------------------------------------------------------------------

test(`soak: ${TURNS} turns over ${MINUTES} minutes through the app`, { timeout: (MINUTES + 60) * 60_000 }, async () => {
  mkdirSync(env.work, { recursive: true });
  s = await launch();
  const about = await invoke(s, "about");
  imagesDir = join(about.dataDir, "images");
  mkdirSync(imagesDir, { recursive: true });
  const cur = await invoke(s, "get_settings");
  await invoke(s, "save_settings", { settings: { ...cur, maxNewTokens: MAX_NEW_TOKENS } });
  await s.exec("location.reload()");
  await s.waitFor("the page is back", async () => (await s.exec("return document.readyState")) === "complete");
  await drop(s, [env.fixture]);
  await ready();
  await s.waitForSelector(tid("composer-input"), { timeoutMs: 10_000 });
  await newConversation();
  sample(0);

  const perTurnMs = (MINUTES * 60_000) / TURNS;
  const contextTurn = Math.floor(TURNS / 2) + 3;
  let nextSample = Date.now() + SAMPLE_S * 1000;
  const failures = [];

  for (let turn = 1; turn <= TURNS; turn++) {
    const t = Date.now();
    let kind = "ask";
    try {
      if (turn % 10 === 1 && turn > 1) await newConversation();
      if (turn % 30 === 0) await deleteOldestConversation();
      if (turn % 3 === 0) await dropImages(freshImages(1 + (turn % 2)));
      if (turn % 11 === 0) {
        // One picture too many: dropped, then removed from the composer before sending.
        await dropImages(freshImages(1));
        const n = (await s.query(tid("remove-image"))).length;
        await s.exec(`const b = document.querySelectorAll('[data-testid="remove-image"]'); b[b.length - 1].click();`);
        await s.waitFor("the removed image leaves the composer", async () =>
          (await s.query(tid("remove-image"))).length === n - 1,
        );
      }
      const cycle = turn % 40;
      if (cycle === 15) await downloadAndCancel();
      if (cycle === 17) await resumeAndLoad();
      if (cycle === 37) await switchBackAndDelete();

      if (turn === contextTurn) {
        // Far past the tiny model's 8,192 positions: digits are a token each.
        kind = "context";
        const a = await ask(`Count these: ${"1234567890".repeat(1000)}`);
        run.contextError = a.error;
        if (a.status !== "error" || !/context/i.test(a.error ?? ""))
          failures.push(`turn ${turn}: a prompt past the context gave ${a.status} (${a.error})`);
        await shot(s, "soak-context");
        const mended = await editLast("Now just say hello.");
        if (mended.status !== "complete") failures.push(`turn ${turn}: the mended question gave ${mended.status}`);
      } else {
        const a = await ask(`Turn ${turn}: what do you see? Say something about colour ${turn % 7}.`);
        if (a.status !== "complete") failures.push(`turn ${turn}: ${a.status} ${a.error ?? ""}`);
        if (turn % 5 === 4) {
          kind = "regenerate";
          const r = await regenerate();
          if (r.status !== "complete") failures.push(`turn ${turn} regenerate: ${r.status} ${r.error ?? ""}`);
        } else if (turn % 7 === 6) {
          kind = "edit";
          const e = await editLast(`Turn ${turn}, edited: describe it in one line.`);
          if (e.status !== "complete") failures.push(`turn ${turn} edit: ${e.status} ${e.error ?? ""}`);
        }
      }
      await ipcProbe();
    } catch (e) {
      failures.push(`turn ${turn} (${kind}): ${e.message.split("\n")[0]}`);
      await shot(s, `soak-failure-${turn}`).catch(() => {});
      if (failures.length > 10) break;
    }
    run.turns.push({ turn, kind, ms: Date.now() - t });
    if (turn % 20 === 0) {
      log(`turn ${turn}/${TURNS} at ${Math.round((Date.now() - run.t0) / 60_000)} min; failures ${failures.length}`);
      await shot(s, `soak-turn-${turn}`);
    }
    // Paced as a person thinks between questions; samples are taken while idle, too.
    const until = run.t0 + turn * perTurnMs;
    while (Date.now() < until || Date.now() >= nextSample) {
      if (Date.now() >= nextSample) {
        sample(turn);
        nextSample += SAMPLE_S * 1000;
      }
      if (Date.now() >= until) break;
      await sleep(Math.max(0, Math.min(until, nextSample) - Date.now()));
    }
  }
  sample(TURNS);

  // A delete collects what no conversation names; then the store must hold exactly that.
  await deleteOldestConversation();
  const named = new Set();
  const conversations = await invoke(s, "list_conversations");
  const unopened = [];
  for (const c of conversations) {
    try {
      const full = await invoke(s, "get_conversation", { id: c.id });
      for (const m of full.messages) for (const i of m.images) named.add(i.file.split("/").pop());
    } catch (e) {
      unopened.push(`${c.id}: ${e.message}`);
    }
  }
  const stored = readdirSync(imagesDir);
  const orphans = stored.filter((f) => !named.has(f));
  const missing = [...named].filter((f) => !stored.includes(f));

  const duration = (Date.now() - run.t0) / 1000;
  const steady = run.samples.filter((p) => p.t >= duration * WARMUP);
  const series = (k) => steady.map((p) => ({ t: p.t, y: p[k] / 1024 }));
  const first = steady[0] ?? run.samples[0];
  const last = run.samples[run.samples.length - 1];
  const summary = {
    turns: run.turns.length,
    minutes: Math.round(duration / 6) / 10,
    samples: run.samples.length,
    appRssMiB: { warm: Math.round(first.appKiB / 1024), end: Math.round(last.appKiB / 1024),
      max: Math.round(Math.max(...run.samples.map((p) => p.appKiB)) / 1024),
      slopeMiBPerHour: Math.round(slopePerHour(series("appKiB")) * 10) / 10 },
    webRssMiB: { warm: Math.round(first.webKiB / 1024), end: Math.round(last.webKiB / 1024),
      slopeMiBPerHour: Math.round(slopePerHour(series("webKiB")) * 10) / 10 },
    fds: { warm: first.fds, end: last.fds, max: Math.max(...steady.map((p) => p.fds)),
      slopePerHour: Math.round(slopePerHour(steady.map((p) => ({ t: p.t, y: p.fds }))) * 10) / 10 },
    imageStore: { files: stored.length, named: named.size, orphans: orphans.length, missing: missing.length,
      maxFilesSeen: Math.max(...run.samples.map((p) => p.images)) },
    ipcMs: quantiles(run.ipcMs),
    turnMs: quantiles(run.turns.map((x) => x.ms)),
    downloads: run.downloads,
    modelSwitches: run.switches,
    conversations: conversations.length,
    contextError: run.contextError,
    failures,
  };
  mkdirSync(env.artifacts, { recursive: true });
  writeFileSync(join(env.artifacts, "soak.json"), JSON.stringify({ summary, ...run }, null, 1));
  log(`soak summary: ${JSON.stringify(summary)}`);

  assert.deepEqual(failures, []);
  assert.deepEqual(unopened, [], "conversations that do not open");
  assert.match(run.contextError ?? "", /context holds \d+/, "the context error is not the actionable one");
  assert.deepEqual(orphans, [], "stored images no conversation names");
  assert.deepEqual(missing, [], "images conversations name that are not stored");
  assert.ok(summary.fds.max - summary.fds.warm <= MAX_FD_GROWTH, `descriptors grew: ${JSON.stringify(summary.fds)}`);
  assert.ok(summary.appRssMiB.slopeMiBPerHour <= MAX_RSS_MIB_PER_H, `app memory grows: ${JSON.stringify(summary.appRssMiB)}`);
  assert.ok(summary.ipcMs.p95 <= MAX_IPC_P95_MS, `IPC p95: ${JSON.stringify(summary.ipcMs)}`);
  assert.ok(run.downloads.completed >= 1 || TURNS < 17, "no download was resumed to completion");
});
