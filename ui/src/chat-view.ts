// The message list: stored messages, the question just sent and the answer streaming in, with
// their actions (copy, regenerate, edit-and-resend) and stats.

import type { ApiError, AppInfo, StoredImage, StoredMessage } from "./api";
import { answeredByEl, errorHint } from "./answer-meta";
import { imageSrc } from "./assets";
import type { ChatController } from "./chat";
import { copyText, flashButton, h, setChildren } from "./dom";
import { formatCount, formatSeconds, formatTokPerS } from "./format";
import { icon } from "./icons";
import { openLightbox } from "./lightbox";
import { renderMarkdownInto, stableMarkdownPrefix } from "./markdown";
import { isGenerating, watch, type AppState, type Store } from "./state";
import { currentStats, isFinished, phaseLabel, storedStats, type AnswerStats, type LiveAnswer } from "./stream";
import { toast } from "./toast";

export interface ChatViewDeps {
  store: Store<AppState>;
  chat: ChatController;
  /** The composer's longest edge for resends. */
  longestEdge: () => number | undefined;
  /** What the empty chat shows (it depends on the model state). */
  emptyState: () => HTMLElement;
}

async function copyWithFlash(text: string, button: HTMLElement): Promise<void> {
  if (await copyText(text)) flashButton(button);
}

function onCodeCopy(code: string, button: HTMLButtonElement): void {
  void copyWithFlash(code, button);
}

/** Links in answers never navigate the app's window: a click copies the address instead. */
function guardLinks(root: HTMLElement): void {
  root.addEventListener("click", (ev) => {
    const a = (ev.target as Element | null)?.closest?.("a");
    if (!a) return;
    ev.preventDefault();
    const href = a.getAttribute("href");
    if (href) {
      void copyText(href).then((ok) => toast(ok ? `Link copied: ${href}` : `Link: ${href}`));
    }
  });
}

function actionButton(testid: string, label: string, iconName: Parameters<typeof icon>[0], onClick: (b: HTMLButtonElement) => void): HTMLButtonElement {
  const b = h("button", { type: "button", class: "msg-action", testid, "aria-label": label, title: label },
    icon(iconName), h("span", { class: "label", text: label.split(" ")[0] ?? label }));
  b.addEventListener("click", () => onClick(b));
  return b;
}

/** Said on an answer whose save failed. */
export function saveErrorEl(e: ApiError): HTMLElement {
  return h("div", { class: "msg-error", role: "alert", testid: "message-save-error" },
    icon("alert"), h("span", { text: `This answer was not saved: ${e.message}` }), h("code", { text: e.code }));
}

/** Said above the conversation when this window cannot change the conversations. */
function readOnlyEl(r: NonNullable<AppInfo["readOnly"]>): HTMLElement {
  const why = r.reason === "other-instance"
    ? "Another SmolVLM Desktop window is using these conversations."
    : `The data folder cannot be written (${r.message}).`;
  return h("div", { class: "notice warn", role: "status", testid: "read-only-notice" },
    icon("alert"), h("span", { class: "notice-text", text: `${why} This window shows them read-only.` }));
}

function imagesEl(images: readonly StoredImage[]): HTMLElement | null {
  if (images.length === 0) return null;
  return h("div", { class: "msg-images" }, ...images.map((img) => {
    const src = imageSrc(img.file);
    const caption = `${img.originalName} · ${img.width}×${img.height}`;
    const b = h("button", { type: "button", class: "msg-image", testid: "message-image", "data-page": img.page?.page ?? null, "aria-label": `View ${img.originalName}`, title: caption },
      h("img", { src, alt: img.originalName, loading: "lazy", decoding: "async" }),
      img.page ? h("span", { class: "thumb-page", text: `p. ${img.page.page} of ${img.page.pages}` }) : null);
    b.addEventListener("click", () => openLightbox(src, caption));
    return b;
  }));
}

function errorEl(e: ApiError): HTMLElement {
  const hint = errorHint(e.code);
  return h("div", { class: "msg-error", role: "alert", testid: "message-error" },
    icon("alert"), h("span", { text: e.message }), h("code", { text: e.code }),
    hint ? h("p", { class: "msg-error-hint", text: hint }) : null);
}

function statsEl(tokPerS: number | null, ttftS: number | null, extra: string | null, stages?: AnswerStats): HTMLElement {
  return h("div", { class: "msg-stats" },
    h("span", { class: "stat", testid: "tok-per-s", title: "Decode speed", text: formatTokPerS(tokPerS) }),
    h("span", { class: "stat", testid: "ttft", title: "Time to first token", text: `TTFT ${formatSeconds(ttftS)}` }),
    stages ? stagesEl(stages) : null,
    extra ? h("span", { class: "stat", text: extra }) : null,
  );
}

/** Where the wait for the first token went: the images through the vision tower, then the
 * prompt's prefill (a connection's answer reports neither). */
function stagesEl(s: AnswerStats): HTMLElement | null {
  const parts: string[] = [];
  if (s.visionS > 0) parts.push(`vision ${formatSeconds(s.visionS)}`);
  if (s.prefillS > 0) parts.push(`prefill ${formatSeconds(s.prefillS)}`);
  if (parts.length === 0) return null;
  return h("span", { class: "stat", testid: "stage-times", title: "Time in the vision tower and in the prompt's prefill", text: parts.join(" · ") });
}

function finalExtra(s: AnswerStats): string {
  const parts = [`${formatCount(s.generatedTokens)} tokens`];
  if (s.imageTokens > 0) parts.push(`${formatCount(s.imageTokens)} image tokens`);
  if (s.stopReason === "length") parts.push("hit the length limit");
  return parts.join(" · ");
}

const STATUS_NOTES: Partial<Record<StoredMessage["status"], string>> = {
  cancelled: "Stopped",
  interrupted: "Interrupted: the app closed while answering",
  streaming: "Unfinished",
};

/** The typing caret goes at the end of the last text, inside lists and paragraphs. */
function placeCaret(root: HTMLElement): void {
  let el: Element = root;
  for (;;) {
    const last = el.lastElementChild;
    if (!last || !/^(P|UL|OL|LI|BLOCKQUOTE|H[1-6]|STRONG|EM|CODE|DEL|A|SPAN)$/.test(last.tagName)) break;
    // Only descend when nothing but whitespace follows that element.
    let after = last.nextSibling;
    while (after && after.nodeType === Node.TEXT_NODE && !after.textContent?.trim()) after = after.nextSibling;
    if (after) break;
    el = last;
  }
  el.append(h("span", { class: "caret", "aria-hidden": "true" }));
}

export function createChatView(deps: ChatViewDeps): HTMLElement {
  const { store, chat } = deps;
  const inner = h("div", { class: "messages-inner" });
  const root = h("section", { class: "messages", testid: "messages", role: "log", "aria-label": "Messages", "aria-live": "polite", "aria-relevant": "additions" }, inner);
  guardLinks(root);

  let editingId: string | null = null;
  let lastLiveSent: number | null = null;
  let liveEl: { el: HTMLElement; update: (l: LiveAnswer) => void } | null = null;
  let tick: number | null = null;

  const nearBottom = () => root.scrollHeight - root.scrollTop - root.clientHeight < 80;
  /** Follow the bottom while the user has not scrolled up. */
  let stuck = true;
  root.addEventListener("scroll", () => {
    stuck = nearBottom();
  }, { passive: true });
  const scrollToBottom = () => {
    root.scrollTop = root.scrollHeight;
    stuck = true;
  };

  function userMessage(m: StoredMessage, canEdit: boolean): HTMLElement {
    const body = h("div", { class: "msg-body" });
    const article = h("article", { class: "msg msg-user", testid: "message", "data-role": "user", "data-status": m.status, "data-id": m.id },
      body);
    const images = imagesEl(m.images);
    if (editingId === m.id) {
      const input = h("textarea", { class: "edit-input", testid: "edit-input", "aria-label": "Edit your message", rows: 3 });
      input.value = m.text;
      const sendEdit = () => {
        const text = input.value.trim();
        if (!text && m.images.length === 0) return;
        editingId = null;
        void chat.editAndResend(m.id, text, deps.longestEdge());
      };
      const cancel = () => {
        editingId = null;
        render(store.get());
      };
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
          ev.preventDefault();
          sendEdit();
        } else if (ev.key === "Escape") {
          ev.preventDefault();
          ev.stopPropagation();
          cancel();
        }
      });
      body.append(images ?? "", h("div", { class: "msg-bubble editing" }, input,
        h("div", { class: "edit-actions" },
          h("span", { class: "hint", text: "Resending drops this message and everything after it." }),
          h("button", { type: "button", class: "button", testid: "edit-cancel", text: "Cancel", onclick: cancel }),
          h("button", { type: "button", class: "button primary", testid: "edit-send", text: "Send", onclick: sendEdit }))));
      queueMicrotask(() => {
        input.focus();
        input.setSelectionRange(input.value.length, input.value.length);
      });
      return article;
    }
    if (images) body.append(images);
    if (m.text) body.append(h("div", { class: "msg-bubble" }, h("div", { class: "msg-text plain", testid: "message-text", text: m.text })));
    const actions = h("div", { class: "msg-actions" });
    if (canEdit) {
      actions.append(actionButton("edit-message", "Edit and resend", "pencil", () => {
        editingId = m.id;
        render(store.get());
      }));
    }
    if (m.text) actions.append(actionButton("copy-message", "Copy question", "copy", (b) => void copyWithFlash(m.text, b)));
    body.append(actions);
    return article;
  }

  function avatar(): HTMLElement {
    return h("div", { class: "msg-avatar", "aria-hidden": "true" }, icon("sparkle"));
  }

  function assistantMessage(stored: StoredMessage, isLast: boolean, canAct: boolean): HTMLElement {
    // An answer whose save failed shows what the user saw, and says it is not saved.
    const unsaved = store.get().unsaved[stored.id];
    const m = unsaved ? { ...stored, text: unsaved.text } : stored;
    const text = h("div", { class: "msg-text md", testid: "message-text" });
    renderMarkdownInto(text, m.text, onCodeCopy);
    const body = h("div", { class: "msg-body" }, answeredByEl(m.answeredBy), text);
    if (unsaved) body.append(saveErrorEl(unsaved.error));
    if (m.error) body.append(errorEl(m.error));
    const note = STATUS_NOTES[m.status];
    if (note && !(m.status === "streaming" && !m.text)) body.append(h("div", { class: "msg-note", text: note }));
    const stats = store.get().answerStats[m.id] ?? storedStats(m);
    if (stats) body.append(statsEl(stats.tokPerS, stats.ttftS, finalExtra(stats), stats));
    const actions = h("div", { class: "msg-actions" });
    if (m.text) actions.append(actionButton("copy-answer", "Copy answer", "copy", (b) => void copyWithFlash(m.text, b)));
    if (isLast && canAct) actions.append(actionButton("regenerate", "Regenerate answer", "refresh", () => void chat.regenerate(deps.longestEdge())));
    body.append(actions);
    return h("article", { class: "msg msg-assistant", testid: "message", "data-role": "assistant", "data-status": m.status, "data-id": m.id },
      avatar(), body);
  }

  function liveMessage(): { el: HTMLElement; update: (l: LiveAnswer) => void } {
    const text = h("div", { class: "msg-text md", testid: "message-text" });
    const phase = h("div", { class: "msg-phase" });
    const progress = h("progress", { class: "image-progress", testid: "image-progress", max: 1, value: 0, "aria-label": "Image encoding" });
    const progressRow = h("div", { class: "msg-progress" }, progress);
    const statsSlot = h("div", { class: "msg-stats-slot" });
    const errorSlot = h("div");
    const actions = h("div", { class: "msg-actions" });
    const bySlot = h("div", { class: "msg-by-slot" });
    const body = h("div", { class: "msg-body" }, bySlot, phase, progressRow, text, errorSlot, statsSlot, actions);
    const el = h("article", { class: "msg msg-assistant live", testid: "message", "data-role": "assistant", "data-status": "streaming" }, avatar(), body);
    let renderedText: string | null = null;
    // While streaming: the answer's first `stableLen` characters are complete markdown blocks,
    // rendered once as the first `stableNodes` children of `text`; only the rest is redone.
    let stableLen = 0;
    let stableNodes = 0;
    const renderStreaming = (src: string) => {
      while (text.childNodes.length > stableNodes) text.lastChild?.remove();
      const cut = stableMarkdownPrefix(src);
      const scratch = document.createElement("div");
      if (cut > stableLen) {
        renderMarkdownInto(scratch, src.slice(stableLen, cut), onCodeCopy);
        stableNodes += scratch.childNodes.length;
        text.append(...Array.from(scratch.childNodes));
        stableLen = cut;
      }
      renderMarkdownInto(scratch, src.slice(stableLen), onCodeCopy);
      text.append(...Array.from(scratch.childNodes));
    };
    let frame = 0;
    let fallback = 0;
    let painted = false;
    let latest: LiveAnswer | null = null;
    const paint = () => {
      if (frame) cancelAnimationFrame(frame);
      if (fallback) window.clearTimeout(fallback);
      frame = 0;
      fallback = 0;
      const l = latest;
      if (!l) return;
      const stick = stuck;
      const status = l.phase === "complete" ? "complete" : l.phase === "cancelled" ? "cancelled" : l.phase === "error" ? "error" : "streaming";
      el.dataset.status = status;
      if (l.assistantMessageId) el.dataset.id = l.assistantMessageId;
      const working = !isFinished(l);
      phase.hidden = !working || l.phase === "streaming";
      phase.textContent = phaseLabel(l);
      phase.classList.toggle("pulse", working);
      progressRow.hidden = !(l.phase === "encoding" && l.framesTotal > 0);
      progress.max = Math.max(1, l.framesTotal);
      progress.value = l.framesDone;
      el.classList.toggle("typing", working);
      el.setAttribute("aria-busy", String(working));
      if (renderedText !== l.text || (isFinished(l) && stableLen > 0)) {
        renderedText = l.text;
        if (isFinished(l)) {
          // The finished answer is rendered whole, exactly as stored messages are.
          stableLen = 0;
          stableNodes = 0;
          renderMarkdownInto(text, l.text, onCodeCopy);
        } else {
          renderStreaming(l.text);
          placeCaret(text);
        }
      } else if (isFinished(l)) {
        text.querySelector(".caret")?.remove();
      }
      setChildren(errorSlot, l.saveError ? saveErrorEl(l.saveError) : null, l.error ? errorEl(l.error) : null);
      if (bySlot.textContent !== (l.answeredBy ?? "")) setChildren(bySlot, answeredByEl(l.answeredBy));
      const st = currentStats(l, Date.now());
      const extra = l.stats ? finalExtra(l.stats) : l.tokens > 0 ? `${formatCount(l.tokens)} tokens` : null;
      setChildren(statsSlot, statsEl(st.tokPerS, st.ttftS, extra, l.stats ?? undefined));
      setChildren(actions, l.phase === "cancelled" ? h("div", { class: "msg-note", text: "Stopped" }) : null);
      if (stick) scrollToBottom();
    };
    return {
      el,
      update(l) {
        latest = l;
        // The first paint is immediate (a redraw never shows an empty answer for a frame);
        // later ones are batched per frame, with a timer in case frames are throttled.
        if (!painted) {
          painted = true;
          paint();
        } else if (!frame) {
          frame = requestAnimationFrame(paint);
          fallback = window.setTimeout(paint, 120);
        }
      },
    };
  }

  function render(s: AppState): void {
    const stick = stuck;
    const conv = s.conversation && s.conversation.id === s.currentId ? s.conversation : null;
    const live = s.live && s.live.conversationId === s.currentId ? s.live : null;
    const generating = isGenerating(s);
    const hidden = new Set<string>();
    if (live) {
      if (live.userMessageId) hidden.add(live.userMessageId);
      if (live.assistantMessageId) hidden.add(live.assistantMessageId);
    }
    const messages = (conv?.messages ?? []).filter((m) => m.role !== "system" && !hidden.has(m.id));
    const lastAssistant = [...messages].reverse().find((m) => m.role === "assistant");
    const nodes: HTMLElement[] = [];
    for (const m of messages) {
      if (m.role === "user") nodes.push(userMessage(m, !generating && !live));
      else nodes.push(assistantMessage(m, m === lastAssistant && !live, !generating));
    }
    if (live && s.pendingUser) nodes.push(userMessage(s.pendingUser, false));
    liveEl = null;
    if (live) {
      liveEl = liveMessage();
      liveEl.update(live);
      nodes.push(liveEl.el);
    }
    if (s.info?.readOnly) nodes.unshift(readOnlyEl(s.info.readOnly));
    if (s.chatError) {
      nodes.push(h("div", { class: "chat-error", role: "alert", testid: "chat-error" },
        icon("alert"), h("span", { text: s.chatError.message }), h("code", { text: s.chatError.code })));
    }
    if (nodes.length === 0) nodes.push(deps.emptyState());
    root.classList.toggle("empty", messages.length === 0 && !live);
    setChildren(inner, ...nodes);
    const newLive = live !== null && lastLiveSent !== live.sentMs;
    lastLiveSent = live?.sentMs ?? null;
    if (stick || newLive) scrollToBottom();
    syncTicker(live);
  }

  /** While an answer streams, the live numbers (tok/s) move even between tokens. */
  function syncTicker(live: LiveAnswer | null): void {
    const running = live !== null && !isFinished(live);
    if (running && tick === null) {
      tick = window.setInterval(() => {
        const l = store.get().live;
        if (l && liveEl) liveEl.update(l);
      }, 500);
    } else if (!running && tick !== null) {
      window.clearInterval(tick);
      tick = null;
    }
  }

  watch(store, (s) => [s.conversation, s.currentId, s.pendingUser, s.chatError, s.answerStats, s.unsaved, s.info, s.live === null, s.live?.assistantMessageId, s.status?.state, s.status?.model?.path, s.localModels, s.catalog, s.modelsLoaded, s.settings] as const, render);
  watch(store, (s) => [s.live] as const, (s) => {
    if (s.live && liveEl && s.live.conversationId === s.currentId) liveEl.update(s.live);
    syncTicker(s.live && s.live.conversationId === s.currentId ? s.live : null);
  });
  render(store.get());
  return root;
}
