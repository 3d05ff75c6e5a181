// End-to-end test of "Open with SmolVLM" (the desktop entry runs `smolvlm-desktop %F`), run after
// app.test.mjs and documents.test.mjs in the same data dir (scripts/e2e.sh; it needs nothing from
// them, so it also runs alone):
// - without a D-Bus session bus the app still starts (the single-instance plugin cannot look for
//   another instance then) and writes its log file;
// - an image named on the command line (beside a flag, which is ignored) opens in a new chat,
//   attached in the composer as a dropped image is;
// - with a session bus (scripts/e2e.sh starts a private one when dbus-daemon is there), a second
//   launch with an image hands it to the running app, which attaches it in a new chat, and exits;
// - Settings → About shows the log folder, where this app's log says all that happened.

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { env, invoke, launch, shot, sleep, tid, writePng } from "./lib/app.mjs";
import { Session } from "./lib/webdriver.mjs";

// Screenshots 90 and on.
Session.shotCounter = 89;

const DIR = join(env.work ?? "/tmp", "open-with");
mkdirSync(DIR, { recursive: true });
const ON_START = writePng(join(DIR, "opened-on-start.png"), 240, 160, (x, y) => [x, y, 200]);
const SECOND = writePng(join(DIR, "second-launch.png"), 160, 240, (x, y) => [200, x, y]);

let s;

after(async () => {
  if (s) await s.quit();
});

/** The composer's thumbnails: [name, status, decoded]. */
async function composerImages() {
  return s.exec(
    `return Array.from(document.querySelectorAll('[data-testid="composer-image"]')).map((t) => {
       const img = t.querySelector('img');
       return [t.title, t.dataset.status, !!img && img.complete && img.naturalWidth > 0];
     });`,
  );
}

/** The conversation the window shows (the sidebar's current item), with its message count. */
async function currentConversation() {
  const id = await s.exec(`return document.querySelector('.conversation.current')?.dataset.id ?? null;`);
  if (!id) return null;
  const c = await invoke(s, "get_conversation", { id });
  return { id, messages: c.messages.length };
}

/** Runs the app outside WebDriver; resolves with its exit code, its stderr so far and a kill. */
function runApp(args, extraEnv, cwd) {
  const child = spawn(env.binary, args, { cwd, env: { ...process.env, ...extraEnv }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((r) => child.on("exit", (code, signal) => r({ code, signal })));
  return { child, exited, stderr: () => stderr };
}

test("without a session bus the app starts alone and logs to a file", async () => {
  assert.ok(env.binary, "APP_BINARY is not set (run through scripts/e2e.sh)");
  const data = join(DIR, "alone-data");
  const app = runApp([ON_START], { DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(DIR, "no-such-bus")}`, SMOLVLM_DESKTOP_DATA_DIR: data }, DIR);
  try {
    const end = Date.now() + 60_000;
    while (!/opened with 1 file/.test(app.stderr()) && Date.now() < end) {
      const gone = await Promise.race([app.exited, sleep(100).then(() => null)]);
      if (gone) assert.fail(`the app exited (${JSON.stringify(gone)}) before starting:\n${app.stderr()}`);
    }
    assert.match(app.stderr(), /SmolVLM Desktop \S+ starting/, app.stderr());
    assert.match(app.stderr(), /opened with 1 file/, app.stderr());
    const log = join(data, "logs", "smolvlm-desktop.log");
    assert.ok(existsSync(log), `no log file at ${log}`);
    assert.match(readFileSync(log, "utf8"), /starting: data folder/);
    console.log(`# log file ${log}: ${readFileSync(log, "utf8").split("\n")[0]}`);
  } finally {
    app.child.kill("SIGTERM");
    const { code, signal } = await Promise.race([app.exited, sleep(10_000).then(() => ({ code: "still running" }))]);
    if (code === "still running") app.child.kill("SIGKILL");
    console.log(`# the lone app ended (${code ?? signal})`);
  }
});

test("an image named on the command line opens in a new chat, attached", async () => {
  s = await launch({ args: ["--ignored-flag", ON_START] });
  // What the app was started with: WebKitWebDriver passes `args` on (after its own flags).
  const pid = execFileSync("pgrep", ["-n", "-f", env.binary]).toString().trim();
  const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  console.log(`# the app's command line: ${JSON.stringify(argv.slice(1))}`);
  assert.ok(argv.includes(ON_START), JSON.stringify(argv));

  await s.waitFor("the opened image is attached and decoded", async () => {
    const imgs = await composerImages();
    return imgs.length === 1 && imgs[0][0] === "opened-on-start.png" && imgs[0][1] === "ready" && imgs[0][2] ? imgs : null;
  }, { timeoutMs: 20_000 });
  const current = await s.waitFor("a current conversation", currentConversation, { timeoutMs: 10_000 });
  assert.equal(current.messages, 0, "the files open in a new, empty chat");
  const list = await invoke(s, "list_conversations");
  assert.equal(list.sort((a, b) => b.updatedMs - a.updatedMs)[0].id, current.id, "the new chat is the newest");
  assert.equal((await s.query(tid("drop-error"))).length, 0, "no drop error");
  // The UI took the files: nothing is left to take.
  assert.deepEqual(await invoke(s, "take_opened_files"), []);
  await shot(s, "open-with-start");
});

test("a second launch hands its image to the running app, which opens it in a new chat", async (t) => {
  if (!process.env.DBUS_SESSION_BUS_ADDRESS) {
    t.skip("no D-Bus session bus: each launch runs on its own (dbus-daemon not installed?)");
    return;
  }
  assert.ok(s, "app not running");
  // An empty, untitled chat would be reused for the files: give the one on screen a title (and
  // reopen it, so that the window knows), and empty the composer.
  await s.click(tid("remove-image"));
  await s.waitFor("the composer is empty", async () => (await composerImages()).length === 0);
  const before = await currentConversation();
  const TITLE = "Before the second launch";
  await invoke(s, "rename_conversation", { id: before.id, title: TITLE });
  await s.click(`${tid("conversation-item")}[data-id="${before.id}"] .conversation-open`);
  await s.waitFor("the renamed chat is on screen", async () =>
    (await s.exec(`return document.querySelector('.topbar-title')?.textContent;`)) === TITLE);

  // Relative to the second launch's own working folder.
  const second = runApp(["--new-window", "second-launch.png"], {}, DIR);
  const exit = await Promise.race([second.exited, sleep(30_000).then(() => null)]);
  if (!exit) second.child.kill("SIGKILL");
  assert.deepEqual(exit, { code: 0, signal: null }, `the second launch should hand over and exit 0:\n${second.stderr()}`);

  await s.waitFor("the second launch's image is attached in a new chat", async () => {
    const imgs = await composerImages();
    const cur = await currentConversation();
    return imgs.length === 1 && imgs[0][0] === "second-launch.png" && imgs[0][1] === "ready" && imgs[0][2]
      && cur && cur.id !== before.id && cur.messages === 0 ? { imgs, cur } : null;
  }, { timeoutMs: 20_000 });
  await shot(s, "open-with-second-launch");
});

test("Settings → About shows the version, the kernels and where the logs are", async () => {
  assert.ok(s, "app not running");
  await s.click(tid("open-settings"));
  const logDir = join(process.env.XDG_DATA_HOME ?? join(process.env.HOME, ".local/share"), "org.smolvlm.desktop", "logs");
  await s.waitFor("About lists the log folder", async () =>
    (await s.exec(`return document.querySelector('[data-testid="about-log-dir"]')?.textContent ?? null;`)) === logDir);
  const about = await invoke(s, "about");
  assert.equal(about.logDir, logDir);
  const shown = await s.exec(`return ['about-version', 'about-kernels'].map((id) =>
    document.querySelector('[data-testid="' + id + '"]')?.textContent);`);
  assert.deepEqual(shown, [`SmolVLM Desktop ${about.version}`, about.cpuKernels]);
  // The app this test started writes there.
  const log = readFileSync(join(logDir, "smolvlm-desktop.log"), "utf8");
  assert.match(log, /opened with 1 file/);
  assert.match(log, /another launch opened 1 file/);
  await s.exec(`document.querySelector('[data-testid="about"]').scrollIntoView();`);
  await shot(s, "settings-about");
  await s.click(tid("settings-cancel"));
});
