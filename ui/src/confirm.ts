// An in-page confirmation dialog (native confirm() is not dependable in every webview and blocks
// WebDriver): resolves true when confirmed.

import { h } from "./dom";

export interface ConfirmOptions {
  title: string;
  message: string;
  confirmLabel?: string;
  danger?: boolean;
}

export function confirmDialog(o: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h("button", {
      type: "button",
      class: o.danger ? "button danger" : "button primary",
      testid: "confirm-ok",
      text: o.confirmLabel ?? "OK",
    });
    const cancel = h("button", { type: "button", class: "button", testid: "confirm-cancel", text: "Cancel" });
    const titleId = `confirm-title-${Date.now()}`;
    const dialog = h("dialog", { class: "dialog confirm", testid: "confirm-dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId, class: "dialog-title", text: o.title }),
      h("p", { class: "confirm-message", text: o.message }),
      h("div", { class: "dialog-actions" }, cancel, ok),
    );
    let answered = false;
    const done = (v: boolean) => {
      if (answered) return;
      answered = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(v);
    };
    ok.addEventListener("click", () => done(true));
    cancel.addEventListener("click", () => done(false));
    dialog.addEventListener("close", () => done(false));
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
