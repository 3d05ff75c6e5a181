import { describe, expect, it, vi } from "vitest";
import { decorateCodeBlocks, escapeHtml, isSafeUrl, renderMarkdown, renderMarkdownInto, stableMarkdownPrefix } from "./markdown";

function render(src: string): HTMLElement {
  const el = document.createElement("div");
  renderMarkdownInto(el, src, () => undefined);
  return el;
}

function assertInert(el: HTMLElement): void {
  expect(el.querySelectorAll("script, img, iframe, object, embed, svg, math, style, form, input, link, meta, base").length).toBe(0);
  for (const node of Array.from(el.querySelectorAll("*"))) {
    for (const attr of Array.from(node.attributes)) {
      expect(attr.name.toLowerCase().startsWith("on"), `${node.tagName} has ${attr.name}`).toBe(false);
      expect(attr.name.toLowerCase()).not.toBe("style");
      expect(attr.name.toLowerCase()).not.toBe("src");
      expect(attr.name.toLowerCase()).not.toBe("srcdoc");
    }
  }
  for (const a of Array.from(el.querySelectorAll("[href]"))) {
    const href = (a.getAttribute("href") ?? "").trim().toLowerCase();
    expect(href.startsWith("http:") || href.startsWith("https:") || href.startsWith("mailto:"), `unsafe href ${href}`).toBe(true);
  }
}

const HOSTILE = [
  "<img src=x onerror=alert(1)>",
  "<script>alert(1)</script>",
  "[x](javascript:alert(1))",
  '<a href="javascript:alert(1)">click</a>',
  "<iframe src=\"https://evil.example\"></iframe>",
  '<div onclick="alert(1)" onmouseover="alert(2)">hover</div>',
  "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "[vb](vbscript:msgbox(1))",
  "[spaced](  javascript:alert(1))",
  "[entity](&#106;avascript:alert(1))",
  "[upper](JaVaScRiPt:alert(1))",
  "![pic](https://evil.example/track.png)",
  '![x" onerror="alert(1)](x)',
  "<svg onload=alert(1)><circle/></svg>",
  "<style>body{display:none}</style>",
  '<form action="https://evil.example"><input name=a></form>',
  "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
  '<a href="https://ok.example" onclick="alert(1)" style="color:red">styled</a>',
  "<object data=x></object><embed src=x>",
  "<base href=\"https://evil.example/\">",
  "<<script>script>alert(1)<</script>/script>",
  "```html\n<script>alert(1)</script>\n```",
];

describe("markdown from the model renders inert", () => {
  for (const src of HOSTILE) {
    it(`is inert: ${src.slice(0, 48)}`, () => assertInert(render(src)));
  }

  it("is inert all together", () => {
    const el = render(HOSTILE.join("\n\n"));
    assertInert(el);
    expect(el.querySelectorAll("script").length).toBe(0);
    expect(el.querySelectorAll("img").length).toBe(0);
  });

  it("shows raw HTML as text rather than dropping what the model said", () => {
    const el = render("Use <b>bold</b> and <script>alert(1)</script>");
    expect(el.querySelector("b")).toBeNull();
    expect(el.textContent).toContain("<b>bold</b>");
    expect(el.textContent).toContain("<script>alert(1)</script>");
  });

  it("replaces images with their alt text and never loads them", () => {
    const el = render("![a cat](https://example.com/cat.png)");
    expect(el.querySelector("img")).toBeNull();
    expect(el.textContent).toContain("a cat");
    expect(el.innerHTML).not.toContain("cat.png");
  });

  it("drops javascript:, data: and vbscript: links but keeps their text", () => {
    const el = render("[a](javascript:alert(1)) [b](data:text/html,x) [c](vbscript:x)");
    expect(el.querySelectorAll("[href]").length).toBe(0);
    expect(el.textContent).toContain("a");
    expect(el.textContent).toContain("c");
  });

  it("keeps safe links with rel=noopener and no referrer", () => {
    const el = render("[docs](https://example.com/docs) and <https://example.org>");
    const links = Array.from(el.querySelectorAll("a"));
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["https://example.com/docs", "https://example.org"]);
    for (const a of links) {
      expect(a.getAttribute("rel")).toContain("noopener");
      expect(a.getAttribute("rel")).toContain("noreferrer");
    }
  });
});

describe("markdown rendering", () => {
  it("renders common markdown", () => {
    const el = render("# Title\n\n**bold** *em* `code`\n\n- one\n- two\n\n| a | b |\n|---|---|\n| 1 | 2 |");
    expect(el.querySelector("h1")?.textContent).toBe("Title");
    expect(el.querySelector("strong")?.textContent).toBe("bold");
    expect(el.querySelector("em")?.textContent).toBe("em");
    expect(el.querySelectorAll("li").length).toBe(2);
    expect(el.querySelector("table td")?.textContent).toBe("1");
  });

  it("gives code blocks a language label and a copy button that copies the code", () => {
    const onCopy = vi.fn();
    const el = document.createElement("div");
    renderMarkdownInto(el, "```python\nprint('<hi>')\n```", onCopy);
    const button = el.querySelector<HTMLButtonElement>('[data-testid="code-copy"]');
    expect(button).not.toBeNull();
    expect(el.querySelector(".code-lang")?.textContent).toBe("python");
    button?.click();
    expect(onCopy).toHaveBeenCalledWith("print('<hi>')\n", button);
  });

  it("renders an unfinished code fence while streaming", () => {
    const el = render("Here:\n```js\nconst a = 1;");
    expect(el.querySelector("pre code")?.textContent).toContain("const a = 1;");
    expect(el.querySelectorAll('[data-testid="code-copy"]').length).toBe(1);
  });

  it("keeps only language classes", () => {
    const html = renderMarkdown("```js\nx\n```");
    expect(html).toContain('class="language-js"');
    const el = document.createElement("div");
    el.innerHTML = html;
    decorateCodeBlocks(el, () => undefined);
    expect(el.querySelectorAll(".code-block").length).toBe(1);
  });

  it("escapes HTML", () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  });

  it("knows safe URLs", () => {
    expect(isSafeUrl("https://a.b")).toBe(true);
    expect(isSafeUrl("mailto:a@b.c")).toBe(true);
    expect(isSafeUrl("javascript:alert(1)")).toBe(false);
    expect(isSafeUrl("data:text/html,x")).toBe(false);
    expect(isSafeUrl(null)).toBe(false);
  });
});

describe("stable prefix of a streaming answer", () => {
  it("ends at the last blank line followed by an unindented line", () => {
    const src = "First paragraph.\n\nSecond one\nstill going\n\nThi";
    expect(src.slice(stableMarkdownPrefix(src))).toBe("Thi");
    expect(stableMarkdownPrefix("No blank line yet\nat all")).toBe(0);
    // A blank line with nothing after it yet: the next block may still be indented.
    expect(stableMarkdownPrefix("One.\n\n")).toBe(0);
    expect(stableMarkdownPrefix("One.\n\n    code?")).toBe(0);
  });

  it("never cuts inside fenced code, and cuts after it closes", () => {
    const open = "Intro.\n\n```py\na = 1\n\nb = 2\n";
    expect(open.slice(stableMarkdownPrefix(open))).toBe("```py\na = 1\n\nb = 2\n");
    const closed = open + "```\n\nAfter.";
    expect(closed.slice(stableMarkdownPrefix(closed))).toBe("After.");
    const tilde = "~~~~\nx\n\n~~~\ny\n";
    expect(stableMarkdownPrefix(tilde)).toBe(0);
  });

  it("renders the same as the whole when prefix and rest are rendered apart", () => {
    const src = "# Title\n\nSome **bold** text\nacross lines.\n\n```js\nconst a = 1;\n\nconst b = 2;\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nEnd";
    const cut = stableMarkdownPrefix(src);
    expect(cut).toBeGreaterThan(0);
    const whole = render(src).innerHTML;
    const apart = render(src.slice(0, cut)).innerHTML + render(src.slice(cut)).innerHTML;
    expect(apart.replace(/\s+/g, "")).toBe(whole.replace(/\s+/g, ""));
  });
});
