// The conversations sidebar: new, open, rename in place, delete with a confirmation; grouped by
// when they were last used, newest first.

import type { ConversationSummary } from "./api";
import { toApiError } from "./api";
import type { ChatController } from "./chat";
import { confirmDialog } from "./confirm";
import { h, setChildren } from "./dom";
import { dateGroup, relativeTime } from "./format";
import { icon } from "./icons";
import { watch, type AppState, type Store } from "./state";
import { toast } from "./toast";

export interface SidebarDeps {
  store: Store<AppState>;
  chat: ChatController;
  openModels: () => void;
  openSettings: () => void;
}

export function displayTitle(c: { title: string }): string {
  return c.title.trim() || "New chat";
}

/** Conversations newest first, in date groups. */
export function groupConversations(list: readonly ConversationSummary[], nowMs: number): { group: string; items: ConversationSummary[] }[] {
  const sorted = [...list].sort((a, b) => b.updatedMs - a.updatedMs);
  const groups: { group: string; items: ConversationSummary[] }[] = [];
  for (const c of sorted) {
    const g = dateGroup(c.updatedMs, nowMs);
    const last = groups[groups.length - 1];
    if (last && last.group === g) last.items.push(c);
    else groups.push({ group: g, items: [c] });
  }
  return groups;
}

export function createSidebar(deps: SidebarDeps): HTMLElement {
  const { store, chat } = deps;
  let renaming: string | null = null;

  const list = h("div", { class: "conversation-list" });
  const newButton = h("button", { type: "button", class: "button new-chat", testid: "new-conversation", title: "New conversation (Ctrl+N)" }, icon("plus"), h("span", { text: "New chat" }));
  newButton.addEventListener("click", () => {
    chat.newConversation().catch((e: unknown) => toast(`Could not create a conversation: ${toApiError(e).message}`, "error"));
  });

  const modelsButton = h("button", { type: "button", class: "side-button", testid: "open-model-manager", title: "Download, add and load models" }, icon("cube"), h("span", { text: "Models" }));
  modelsButton.addEventListener("click", deps.openModels);
  const settingsButton = h("button", { type: "button", class: "side-button", testid: "open-settings", title: "Settings (Ctrl+,)" }, icon("sliders"), h("span", { text: "Settings" }));
  settingsButton.addEventListener("click", deps.openSettings);

  const root = h("aside", { class: "sidebar", testid: "sidebar", "aria-label": "Conversations" },
    h("div", { class: "sidebar-head" },
      h("div", { class: "brand" }, h("span", { class: "brand-mark", "aria-hidden": "true" }, icon("sparkle")), h("span", { class: "brand-name", text: "SmolVLM" })),
      newButton),
    h("nav", { class: "sidebar-list", "aria-label": "Conversation list" }, list),
    h("div", { class: "sidebar-foot" }, modelsButton, settingsButton),
  );

  function item(c: ConversationSummary, current: boolean): HTMLElement {
    const li = h("li", { class: `conversation${current ? " current" : ""}`, testid: "conversation-item", "data-id": c.id });
    if (renaming === c.id) {
      const input = h("input", { type: "text", class: "rename-input", testid: "rename-input", "aria-label": "Conversation title", maxlength: 200 });
      input.value = c.title;
      let done = false;
      const commit = (save: boolean) => {
        if (done) return;
        done = true;
        renaming = null;
        const title = input.value.trim();
        if (save && title && title !== c.title) {
          chat.rename(c.id, title).catch((e: unknown) => {
            toast(`Could not rename: ${toApiError(e).message}`, "error");
            render(store.get());
          });
        }
        render(store.get());
      };
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") {
          ev.preventDefault();
          commit(true);
        } else if (ev.key === "Escape") {
          ev.preventDefault();
          ev.stopPropagation();
          commit(false);
        }
      });
      input.addEventListener("blur", () => commit(true));
      li.append(input);
      queueMicrotask(() => {
        input.focus();
        input.select();
      });
      return li;
    }
    const open = h("button", { type: "button", class: "conversation-open", "aria-current": current ? "page" : null, title: displayTitle(c) },
      h("span", { class: "conversation-title", text: displayTitle(c) }),
      h("span", { class: "conversation-meta", text: relativeTime(c.updatedMs, Date.now()) }));
    // The whole row opens the conversation (the button inside is its keyboard target).
    li.addEventListener("click", (ev) => {
      if ((ev.target as Element | null)?.closest?.(".conversation-actions, input")) return;
      chat.open(c.id).catch((e: unknown) => toast(`Could not open: ${toApiError(e).message}`, "error"));
    });
    const rename = h("button", { type: "button", class: "icon-button small", testid: "conversation-rename", "aria-label": `Rename “${displayTitle(c)}”`, title: "Rename" }, icon("pencil"));
    rename.addEventListener("click", () => {
      renaming = c.id;
      render(store.get());
    });
    const del = h("button", { type: "button", class: "icon-button small danger", testid: "conversation-delete", "aria-label": `Delete “${displayTitle(c)}”`, title: "Delete" }, icon("trash"));
    del.addEventListener("click", () => {
      void (async () => {
        const ok = await confirmDialog({
          title: "Delete this conversation?",
          message: `“${displayTitle(c)}” and its ${c.messages} messages will be deleted. This cannot be undone.`,
          confirmLabel: "Delete",
          danger: true,
        });
        if (!ok) return;
        await chat.remove(c.id).catch((e: unknown) => toast(`Could not delete: ${toApiError(e).message}`, "error"));
      })();
    });
    li.append(open, h("div", { class: "conversation-actions" }, rename, del));
    return li;
  }

  function render(s: AppState): void {
    if (s.conversationsLoaded && s.conversations.length === 0) {
      setChildren(list, h("p", { class: "sidebar-empty", text: "No conversations yet. Ask something to start one." }));
      return;
    }
    const groups = groupConversations(s.conversations, Date.now());
    setChildren(list, ...groups.map((g) => h("section", { class: "conversation-group", "aria-label": g.group },
      h("h2", { class: "group-title", text: g.group }),
      h("ul", { class: "conversation-items" }, ...g.items.map((c) => item(c, c.id === s.currentId))))));
  }

  watch(store, (s) => [s.conversations, s.currentId, s.conversationsLoaded] as const, render);
  render(store.get());
  return root;
}
