// Markdown for model answers. Model output is untrusted: raw HTML in it is shown as text, images
// are never loaded, and the HTML marked produces goes through DOMPurify with a short allow-list
// (no scripts, no event handlers, no styles, links only to http(s) and mailto).

import DOMPurify, { type Config } from "dompurify";
import { Marked, type Tokens } from "marked";

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    // Raw HTML in the answer is text, not markup.
    html(token: Tokens.HTML | Tokens.Tag): string {
      return escapeHtml(token.text);
    },
    // Images in answers are never fetched: show their alt text instead.
    image(token: Tokens.Image): string {
      const alt = token.text.trim() || "image";
      return `<span class="md-image" title="Image not loaded">${escapeHtml(alt)}</span>`;
    },
  },
});

const ALLOWED_TAGS = [
  "a", "b", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
  "i", "kbd", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody",
  "td", "tfoot", "th", "thead", "tr", "ul",
];

const SAFE_URL = /^(?:https?:|mailto:)/i;

const CONFIG: Config = {
  ALLOWED_TAGS,
  ALLOWED_ATTR: ["href", "title", "class", "start", "align"],
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  // DOMPurify holds every attribute that is not "URI-safe" to ALLOWED_URI_REGEXP, which would
  // drop a list's `start="3"` and a table column's `align="right"`; the hook below checks
  // their values instead.
  ADD_URI_SAFE_ATTR: ["start", "align"],
  ALLOWED_URI_REGEXP: SAFE_URL,
  FORBID_TAGS: ["img", "image", "svg", "math", "style", "script", "iframe", "object", "embed",
    "form", "input", "button", "textarea", "select", "video", "audio", "source", "link", "meta",
    "base"],
  FORBID_ATTR: ["style", "src", "srcset", "action", "formaction", "xlink:href", "background"],
  KEEP_CONTENT: true,
};

let purifier: ReturnType<typeof DOMPurify> | null = null;

function getPurifier(): ReturnType<typeof DOMPurify> {
  if (purifier) return purifier;
  const p = DOMPurify(window);
  p.addHook("uponSanitizeAttribute", (node, data) => {
    if (data.attrName === "class") {
      // Only marked's own classes: code languages and the blocked-image marker.
      const ok = data.attrValue
        .split(/\s+/)
        .filter((c) => /^language-[\w+#.-]{1,32}$/.test(c) || c === "md-image");
      if (ok.length === 0) data.keepAttr = false;
      else data.attrValue = ok.join(" ");
    }
    if (data.attrName === "href" && !SAFE_URL.test(data.attrValue.trim())) {
      data.keepAttr = false;
    }
    if (data.attrName === "start" && !/^\d{1,9}$/.test(data.attrValue)) data.keepAttr = false;
    if (data.attrName === "align" && !/^(?:left|right|center)$/.test(data.attrValue)) data.keepAttr = false;
    void node;
  });
  p.addHook("afterSanitizeAttributes", (node) => {
    if (node.nodeName === "A") {
      const a = node as Element;
      if (a.hasAttribute("href")) {
        a.setAttribute("rel", "noopener noreferrer nofollow");
        a.setAttribute("target", "_blank");
      }
    }
  });
  purifier = p;
  return p;
}

/**
 * The allow-list pass on its own: HTML to HTML with only the tags and attributes above (links to
 * http(s) and mailto, opening in a new window without an opener or referrer). `renderMarkdown`
 * runs every answer through it; it is exported so that tests can feed it raw hostile HTML, as if
 * marked had let some through.
 */
export function sanitizeAnswerHtml(html: string): string {
  return getPurifier().sanitize(html, CONFIG) as unknown as string;
}

/** Markdown to sanitized HTML (a string safe to assign to innerHTML). */
export function renderMarkdown(src: string): string {
  return sanitizeAnswerHtml(marked.parse(src, { async: false }).trim());
}

/**
 * How much of a streaming answer is complete blocks: the offset just after the last blank line
 * that lies outside fenced code and is followed by an unindented line. While an answer streams,
 * the blocks before it are rendered once and only the rest is re-rendered each frame —
 * re-rendering the whole answer made each frame cost more the longer it grew. (Splitting can
 * render a loose list as two lists until the answer ends; the finished answer is rendered whole.)
 */
export function stableMarkdownPrefix(src: string): number {
  let fence: { ch: string; len: number } | null = null;
  let cut = 0;
  let pos = 0;
  let blankBefore = false;
  // The text after the last newline may be an unfinished line: it only confirms a cut.
  const lines = src.split("\n");
  for (const [i, line] of lines.entries()) {
    const complete = i < lines.length - 1;
    if (blankBefore && fence === null && line.length > 0 && !/^[ \t]/.test(line)) cut = pos;
    if (!complete) break;
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    const run = marker?.[1];
    if (run) {
      const ch = run.charAt(0);
      if (fence === null) fence = { ch, len: run.length };
      else if (ch === fence.ch && run.length >= fence.len && line.trim() === run) fence = null;
    }
    blankBefore = fence === null && line.trim() === "";
    pos += line.length + 1;
  }
  return cut;
}

/** Is this href one the app may hand to the system (never javascript:, data:, vbscript:…)? */
export function isSafeUrl(href: string | null | undefined): href is string {
  return typeof href === "string" && SAFE_URL.test(href.trim());
}

export interface CodeCopyHandler {
  (code: string, button: HTMLButtonElement): void;
}

/** Renders markdown into `el`, then gives each code block a header with its language and a
 * `code-copy` button. */
export function renderMarkdownInto(el: HTMLElement, src: string, onCopy: CodeCopyHandler): void {
  el.innerHTML = renderMarkdown(src);
  decorateCodeBlocks(el, onCopy);
}

export function decorateCodeBlocks(root: HTMLElement, onCopy: CodeCopyHandler): void {
  const doc = root.ownerDocument;
  for (const pre of Array.from(root.querySelectorAll("pre"))) {
    const code = pre.querySelector("code");
    const lang = /language-([\w+#.-]+)/.exec(code?.className ?? "")?.[1] ?? "";
    const wrap = doc.createElement("div");
    wrap.className = "code-block";
    const head = doc.createElement("div");
    head.className = "code-head";
    const label = doc.createElement("span");
    label.className = "code-lang";
    label.textContent = lang || "code";
    const button = doc.createElement("button");
    button.type = "button";
    button.className = "code-copy";
    button.dataset.testid = "code-copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", `Copy ${lang || "code"} to the clipboard`);
    button.addEventListener("click", () => onCopy(code?.textContent ?? pre.textContent ?? "", button));
    head.append(label, button);
    pre.replaceWith(wrap);
    wrap.append(head, pre);
  }
}
