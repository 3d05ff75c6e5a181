// Hostile model output through the real app: a fake OpenAI-compatible server (started here) is
// added as a connection and streams an answer made of XSS payloads — event handlers, scripts,
// SVG/MathML mXSS, javascript:/data: links, CSS and remote loads, all pointing at this server's
// /leak/ paths. The app renders it (WebKit's parser, the real DOMPurify, the real CSP) and must:
// run nothing (window.__xss stays unset), load nothing (no request reaches /leak/), leave no
// forbidden element or attribute in the answer, and not navigate when a link in it is clicked.
// Then the CSP itself is probed: markup injected straight into the page (past the sanitizer)
// must still neither run nor load. Runs on its own or after the other files (it needs no model):
//   bash scripts/e2e.sh --test-name-pattern=xss tests/e2e/xss.test.mjs

import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";

import { invoke, launch, shot, sleep, tid } from "./lib/app.mjs";
import { Session } from "./lib/webdriver.mjs";

Session.shotCounter = 79;

let s; // the WebDriver session (= the app)
let server = null;
/** Every request the fake server got: `METHOD path`. */
const requests = [];
let origin = "";

after(async () => {
  if (s) {
    await shot(s, "xss-final");
    await s.quit();
  }
  server?.close();
});

const ASSISTANT = `${tid("message")}[data-role="assistant"]`;
const leaks = () => requests.filter((r) => r.includes("/leak/"));

/** The answer: payloads from the OWASP/PortSwigger cheat sheets and the DOMPurify mXSS bypasses,
 * each trying to set window.__xss or fetch `${origin}/leak/<name>`. */
function hostileAnswer() {
  const L = (name) => `${origin}/leak/${name}`;
  const b64 = Buffer.from("<script>window.__xss='data-html'</script>").toString("base64");
  return [
    "Here is the answer you asked for.",
    "<script>window.__xss='script'</script>",
    `<script src="${L("script-src")}"></script>`,
    "<img src=x onerror=\"window.__xss='img-onerror'\">",
    `<img src="${L("img")}">`,
    `<img srcset="${L("img-srcset")} 1x">`,
    "<svg onload=\"window.__xss='svg-onload'\"><circle r=5 /></svg>",
    "<svg><script>window.__xss='svg-script'</script></svg>",
    "<svg><a xlink:href=\"javascript:window.__xss='svg-xlink'\"><text x=20 y=20>svg link</text></a></svg>",
    "<svg><a><animate attributeName=href values=\"javascript:window.__xss='svg-animate'\" /><text x=20 y=20>animated</text></a></svg>",
    `<svg><image href="${L("svg-image")}" /></svg>`,
    `<svg><style>@import url(${L("svg-style-import")});</style></svg>`,
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss='mxss-mglyph'\">",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=\"window.__xss='mxss-form'\">",
    "<noscript><p title=\"</noscript><img src=x onerror=window.__xss='mxss-noscript'>\">",
    "<svg></p><style><a id=\"</style><img src=1 onerror=window.__xss='mxss-svg-p'>\">",
    "<details open ontoggle=\"window.__xss='details'\"><summary>details</summary></details>",
    `<iframe src="${L("iframe")}"></iframe>`,
    "<iframe srcdoc=\"<script>parent.__xss='srcdoc'</script>\"></iframe>",
    `<object data="${L("object")}"></object>`,
    `<embed src="${L("embed")}">`,
    `<link rel=stylesheet href="${L("link-stylesheet")}">`,
    `<link rel=prefetch href="${L("link-prefetch")}">`,
    `<style>@import url(${L("style-import")}); body { background: url(${L("style-bg")}) }</style>`,
    `<div style="background-image:url(${L("style-attr")})">styled div</div>`,
    `<meta http-equiv="refresh" content="0;url=${L("meta-refresh")}">`,
    `<base href="${L("base")}/">`,
    `<form action="${L("form")}"><input name=q autofocus onfocus="window.__xss='autofocus'"><button>go</button></form>`,
    `<video poster="${L("video-poster")}"></video><audio src="${L("audio")}"></audio>`,
    `<table background="${L("table-bg")}"><tr><td>cell</td></tr></table>`,
    "<a href=\"javascript:window.__xss='a-js'\">js link</a>",
    "<a href=\"jav&#x09;ascript:window.__xss='a-tab'\">tab link</a>",
    `<a href="data:text/html;base64,${b64}">data link</a>`,
    "[md js link](javascript:window.__xss='md-js')",
    "[md entity link](&#106;avascript:window.__xss='md-entity')",
    `[md data link](data:text/html;base64,${b64})`,
    "[ref link][r]",
    "<javascript:window.__xss='autolink'>",
    `![md image](${L("md-image")})`,
    `![md ref image][img]`,
    `[![linked image](${L("md-linked-image")})](javascript:window.__xss='md-linked')`,
    "```\"><img src=x onerror=\"window.__xss='fence-lang'\">\ncode body\n```",
    "```html\n<script>window.__xss='in-code'</script>\n```",
    `| a | b |\n|---|---|\n| <img src=${L("table-img")}> | [cell](javascript:window.__xss='cell') |`,
    `A safe link: [safe](${L("safe-link")}).`,
    "[r]: javascript:window.__xss='ref'",
    `[img]: ${L("md-ref-image")}`,
  ].join("\n\n");
}

function startServer() {
  return new Promise((ok) => {
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (req.method === "GET" && req.url === "/v1/models") {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: "hostile", object: "model", created: 0, owned_by: "e2e" }] }));
        return;
      }
      if (req.method === "POST" && req.url === "/v1/chat/completions") {
        let body = "";
        req.on("data", (d) => (body += d));
        req.on("end", async () => {
          const question = JSON.parse(body).messages.at(-1)?.content;
          const q = Array.isArray(question) ? question.map((p) => p.text ?? "").join("") : String(question ?? "");
          if (/error/i.test(q)) {
            // A hostile error body: shown as the answer's error, which must stay text.
            res.writeHead(400, { "Content-Type": "application/json" });
            res.end(JSON.stringify({ error: { message: `<img src=${origin}/leak/error-img onerror="window.__xss='error'"> bad request`, type: "invalid_request_error" } }));
            return;
          }
          res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
          const text = hostileAnswer();
          const chunk = (delta, finish = null) => JSON.stringify({
            id: "x", object: "chat.completion.chunk", created: 0, model: "hostile",
            choices: [{ index: 0, delta, finish_reason: finish }],
          });
          res.write(`data: ${chunk({ role: "assistant", content: "" })}\n\n`);
          // Pieces of varying size, so that the streaming render sees cuts inside tags and URLs.
          // Slow enough (~3 s) that the page is inspected while it streams.
          for (let i = 0, n = 5, k = 0; i < text.length; i += n, n = 5 + ((n * 7) % 23), k++) {
            res.write(`data: ${chunk({ content: text.slice(i, i + n) })}\n\n`);
            if (k % 2 === 0) await sleep(30);
          }
          res.write(`data: ${chunk({}, "stop")}\n\n`);
          res.end("data: [DONE]\n\n");
        });
        return;
      }
      // Anything else (a /leak/ load, were one to happen) is recorded above; answer something
      // loadable so a leak cannot hide behind an error.
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("leak");
    });
    server.listen(0, "127.0.0.1", () => {
      origin = `http://127.0.0.1:${server.address().port}`;
      ok();
    });
  });
}

async function fill(id, value) {
  await s.clear(tid(id));
  if (value !== "") await s.type(tid(id), String(value));
  await s.exec(`document.querySelector(arguments[0]).dispatchEvent(new Event('input', { bubbles: true }));`, tid(id));
}

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

async function openSettings() {
  await s.click(tid("open-settings"));
  await s.waitFor("the settings dialog is open", async () => (await s.query(`${tid("settings")}[open]`)).length === 1, { timeoutMs: 5000 });
  await s.waitFor("the connection form is visible", async () => (await s.query(tid("connection-name")))[0]?.visible === true, { timeoutMs: 5000 });
}

async function saveSettings() {
  await s.click(tid("settings-save"));
  await s.waitFor("the settings dialog closed", async () => (await s.query(`${tid("settings")}[open]`)).length === 0, { timeoutMs: 5000 });
}

/** The last answer's DOM, checked in the page: what is in it that should not be. */
async function inspectLastAnswer() {
  return s.exec(
    `const all = document.querySelectorAll(arguments[0]);
     const m = all[all.length - 1];
     if (!m) return null;
     const t = m.querySelector('[data-testid="message-text"]');
     const err = m.querySelector('[data-testid="message-error"]');
     const bad = [];
     const forbidden = 'script, iframe, frame, object, embed, style, link, meta, base, form, input, img, image, picture, source, video, audio, svg, math, template, noscript, details';
     for (const root of [t, err].filter(Boolean)) {
       for (const e of root.querySelectorAll(forbidden)) if (!(e.closest('svg.icon'))) bad.push('<' + e.localName + '>');
       for (const e of root.querySelectorAll('*')) {
         if (e.closest('svg.icon')) continue;
         for (const a of e.attributes) {
           const n = a.name.toLowerCase();
           if (n.startsWith('on') || ['style', 'src', 'srcset', 'srcdoc', 'data', 'poster', 'background', 'action', 'formaction', 'ping', 'id', 'name', 'xlink:href'].includes(n)) bad.push(e.localName + '[' + n + ']');
         }
       }
       for (const a of root.querySelectorAll('[href]')) {
         const h = a.getAttribute('href');
         if (a.localName !== 'a' || !/^(https?:|mailto:)/i.test(h) || a.target !== '_blank' || !/noopener/.test(a.rel) || !/noreferrer/.test(a.rel)) bad.push('href ' + h);
       }
     }
     return { status: m.getAttribute('data-status'), count: all.length, text: t ? t.textContent : '',
              error: err ? err.textContent : null, links: t ? Array.from(t.querySelectorAll('a')).map((a) => a.getAttribute('href')) : [],
              bad, xss: window.__xss ?? null, href: location.href };`,
    ASSISTANT,
  );
}

// ---- the tests ----------------------------------------------------------------------------

test("xss: the app starts with a hostile server added as a connection", async () => {
  await startServer();
  console.log(`# hostile server: ${origin}/v1`);
  s = await launch();
  // Violations the CSP reports from now on (none expected while the answer renders: the
  // sanitizer leaves it nothing to block).
  await s.exec(`window.__cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(e.effectiveDirective + ' ' + e.blockedURI));`);
  await openSettings();
  await s.exec(`document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });`, tid("connections-section"));
  await shot(s, "xss-settings");
  await fill("connection-name", "Hostile");
  await fill("connection-url", `${origin}/v1`);
  await s.click(tid("connection-add"));
  await s.waitForSelector(`${tid("connection-item")}[data-id="hostile"]`, { timeoutMs: 2000 });
  await choose("setting-backend", "hostile");
  await saveSettings();
  assert.equal((await invoke(s, "get_settings")).backend, "hostile");
});

test("xss: a hostile answer renders inert, loads nothing, and its links do not navigate", async () => {
  assert.ok(s, "app not running");
  await s.click(tid("new-conversation"));
  await s.type(tid("composer-input"), "Tell me something hostile.");
  await s.waitFor("Send is enabled", async () => (await s.query(tid("send")))[0]?.disabled === false, { timeoutMs: 5000 });
  const before = (await inspectLastAnswer())?.count ?? 0;
  await s.click(tid("send"));
  // Checked while it streams too: partial markup is the risky part.
  let frames = 0;
  const done = await s.waitFor("the hostile answer completes", async () => {
    const a = await inspectLastAnswer();
    if (!a || a.count <= before) return null;
    frames++;
    assert.deepEqual(a.bad, [], `forbidden markup while ${a.status}`);
    assert.equal(a.xss, null, `a payload ran: ${a.xss}`);
    if (a.status === "error") throw new Error(`the answer failed: ${a.error}`);
    return a.status === "complete" ? a : null;
  }, { timeoutMs: 60_000, intervalMs: 30 });
  await sleep(1500); // lazy loads, refresh timers, queued javascript: navigations
  const a = await inspectLastAnswer();
  await shot(s, "xss-answer");
  console.log(`# answer: ${a.text.length} chars, ${frames} polls, links ${JSON.stringify(a.links)}`);
  assert.deepEqual(a.bad, [], "forbidden markup in the answer");
  assert.equal(a.xss, null, `a payload ran: ${a.xss}`);
  assert.deepEqual(leaks(), [], "the answer loaded remote content");
  const violations = await s.exec("return window.__cspViolations");
  console.log(`# CSP violations while the answer rendered: ${JSON.stringify(violations)}`);
  assert.deepEqual(violations, [], "the CSP had to block something the sanitizer let through");
  // What the model said is still there, as text.
  assert.match(done.text, /Here is the answer you asked for\./);
  assert.match(a.text, /<script>window\.__xss='script'<\/script>/);
  assert.match(a.text, /<img src=x onerror=/);
  // Links left: the safe one, and bare URLs in the (escaped) markup that GFM autolinks, like the
  // one in "@import url(…)"; every dropped unsafe link is an <a> without href.
  const hrefs = a.links.filter((h) => h !== null);
  assert.ok(hrefs.includes(`${origin}/leak/safe-link`), "the safe link is not a link");
  for (const h of hrefs) assert.ok(h.startsWith(`${origin}/leak/`), `an unexpected link: ${h}`);

  // Clicking the safe link copies it; the app's window stays where it is.
  const href = a.href;
  await s.exec(
    `const all = document.querySelectorAll(arguments[0]);
     all[all.length - 1].querySelector('[data-testid="message-text"] a[href="' + arguments[1] + '"]').setAttribute('data-e2e-link', '');`,
    ASSISTANT,
    `${origin}/leak/safe-link`,
  );
  await s.click("[data-e2e-link]");
  await sleep(1000);
  const toast = (await s.query(tid("toast"))).map((t) => t.text).join(" | ");
  console.log(`# toast: ${toast}`);
  assert.match(toast, /Link/);
  assert.equal(await s.exec("return location.href"), href, "the window navigated");
  assert.deepEqual(leaks(), [], "clicking the link loaded it");
});

test("xss: a hostile error message from the server stays text", async () => {
  assert.ok(s, "app not running");
  const before = (await inspectLastAnswer())?.count ?? 0;
  await s.type(tid("composer-input"), "Now answer with an error.");
  await s.click(tid("send"));
  const failed = await s.waitFor("the answer fails with the server's error", async () => {
    const a = await inspectLastAnswer();
    return a && a.count > before && a.status === "error" && a.error ? a : null;
  }, { timeoutMs: 30_000 });
  await sleep(1000);
  const a = await inspectLastAnswer();
  console.log(`# error shown: ${failed.error}`);
  assert.deepEqual(a.bad, []);
  assert.equal(a.xss, null, `a payload ran: ${a.xss}`);
  assert.deepEqual(leaks(), []);
});

test("xss: the CSP blocks script and remote loads injected past the sanitizer", async () => {
  assert.ok(s, "app not running");
  const href = await s.exec("return location.href");
  const result = await s.execAsync(
    `const L = (n) => arguments[0] + '/leak/csp-' + n;
     window.__cspViolations = [];
     const box = document.createElement('div');
     box.hidden = true;
     document.body.append(box);
     box.innerHTML =
       '<img src="' + L('img') + '">' +
       '<img src="x" onerror="window.__xss=\\'csp-onerror\\'">' +
       '<div style="background:url(' + L('style-attr') + ')">x</div>' +
       '<link rel="stylesheet" href="' + L('link') + '">' +
       '<iframe src="' + L('iframe') + '"></iframe>' +
       '<object data="' + L('object') + '"></object>';
     const visible = document.createElement('div');
     visible.style.cssText = 'position:fixed;left:0;top:0;width:10px;height:10px;overflow:hidden';
     document.body.append(visible);
     const img = new Image(); img.src = L('img-js'); visible.append(img);
     const bg = document.createElement('div'); bg.setAttribute('style', 'width:5px;height:5px;background:url(' + L('style-set') + ')'); visible.append(bg);
     const st = document.createElement('style'); st.textContent = '@import url(' + L('import') + '); div{background:url(' + L('style-el') + ')}'; document.head.append(st);
     const inline = document.createElement('script'); inline.textContent = "window.__xss='csp-inline-script'"; document.body.append(inline);
     const remote = document.createElement('script'); remote.src = L('script'); document.body.append(remote);
     const out = {};
     try { await fetch(L('fetch')); out.fetch = 'allowed'; } catch (e) { out.fetch = 'blocked'; }
     try { eval("window.__xss='csp-eval'"); out.eval = 'allowed'; } catch (e) { out.eval = 'blocked'; }
     try { new Function("window.__xss='csp-function'")(); out.fn = 'allowed'; } catch (e) { out.fn = 'blocked'; }
     const base = document.createElement('base'); base.href = L('base') + '/'; document.head.append(base);
     out.baseApplied = document.baseURI.startsWith(L('base'));
     base.remove();
     const form = document.createElement('form'); form.action = L('form'); form.method = 'get'; box.append(form);
     try { form.requestSubmit(); } catch (e) {}
     await new Promise((r) => setTimeout(r, 1500));
     out.xss = window.__xss ?? null;
     out.violations = window.__cspViolations.slice();
     box.remove(); visible.remove(); st.remove(); inline.remove(); remote.remove();
     return out;`,
    origin,
  );
  await sleep(500);
  console.log(`# csp probe: ${JSON.stringify(result)}`);
  assert.equal(result.xss, null, `script ran past the CSP: ${result.xss}`);
  assert.equal(result.fetch, "blocked", "fetch to a remote origin");
  assert.equal(result.eval, "blocked", "eval");
  assert.equal(result.fn, "blocked", "new Function");
  assert.equal(result.baseApplied, false, "<base> changed the document's base URL");
  assert.deepEqual(leaks(), [], "the CSP let a remote load through");
  const directives = new Set(result.violations.map((v) => v.split(" ")[0]));
  for (const d of ["img-src", "script-src", "connect-src"]) assert.ok([...directives].some((x) => x.startsWith(d)), `no ${d} violation: ${[...directives]}`);
  assert.equal(await s.exec("return location.href"), href, "the window navigated (form-action, meta refresh)");
});

test("xss: back to this computer", async () => {
  assert.ok(s, "app not running");
  await openSettings();
  await choose("setting-backend", "");
  await saveSettings();
  assert.equal((await invoke(s, "get_settings")).backend, null);
});
