// Tiny DOM helpers: an element builder, test-id lookup, and clipboard copy. Nothing here sets
// HTML from strings, so model text can only ever land as text.

export type Child = Node | string | number | null | undefined | false;

type Listener = (ev: never) => void;
export type Props = Record<string, string | number | boolean | null | undefined | Listener>;

/** `h("button", {class: "x", testid: "send", onclick: f, "aria-label": "Send"}, "Send")`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === null || value === undefined || value === false) continue;
      if (typeof value === "function") {
        el.addEventListener(key.replace(/^on/, ""), value as EventListener);
      } else if (key === "class") {
        el.className = String(value);
      } else if (key === "testid") {
        el.dataset.testid = String(value);
      } else if (key === "text") {
        el.textContent = String(value);
      } else if (key === "value" && "value" in el) {
        (el as HTMLInputElement).value = String(value);
      } else if (value === true) {
        el.setAttribute(key, "");
      } else {
        el.setAttribute(key, String(value));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
}

/** Replaces all children. */
export function setChildren(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function byTestId<T extends HTMLElement = HTMLElement>(root: ParentNode, id: string): T | null {
  return root.querySelector<T>(`[data-testid="${id}"]`);
}

/** Copies text; falls back to a hidden textarea where the async clipboard is unavailable. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard?.writeText) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through
  }
  const ta = document.createElement("textarea");
  ta.value = text;
  ta.setAttribute("readonly", "");
  ta.className = "offscreen";
  document.body.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand("copy");
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

/** Shows "Copied" on a button for a moment. */
export function flashButton(button: HTMLElement, label = "Copied"): void {
  const labelEl = button.querySelector<HTMLElement>(".label") ?? button;
  const before = labelEl.textContent;
  labelEl.textContent = label;
  button.classList.add("flash");
  window.setTimeout(() => {
    labelEl.textContent = before;
    button.classList.remove("flash");
  }, 1200);
}

/** Runs a redraw of `root` and puts the focus back on the "same" control (by test id and the
 * nearest data-id) if it was inside. */
export function keepFocus(root: HTMLElement, redraw: () => void): void {
  const active = document.activeElement;
  let key: { testid: string; id: string | null } | null = null;
  if (active instanceof HTMLElement && root.contains(active) && active.dataset.testid) {
    key = { testid: active.dataset.testid, id: active.closest<HTMLElement>("[data-id]")?.dataset.id ?? null };
  }
  redraw();
  if (!key) return;
  for (const el of Array.from(root.querySelectorAll<HTMLElement>(`[data-testid="${key.testid}"]`))) {
    const id = el.closest<HTMLElement>("[data-id]")?.dataset.id ?? null;
    if (id === key.id) {
      el.focus();
      return;
    }
  }
}
