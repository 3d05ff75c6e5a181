// A large view of an image (click a thumbnail); Esc, the close button or a click outside closes it.

import { h } from "./dom";
import { icon } from "./icons";

export function openLightbox(src: string, caption: string): void {
  const img = h("img", { class: "lightbox-image", src, alt: caption });
  const close = h("button", { type: "button", class: "icon-button lightbox-close", "aria-label": "Close", testid: "lightbox-close" }, icon("x"));
  const dialog = h("dialog", { class: "lightbox", testid: "lightbox", "aria-label": caption },
    h("figure", { class: "lightbox-figure" }, img, h("figcaption", { text: caption })),
    close,
  );
  const shut = () => dialog.close();
  close.addEventListener("click", shut);
  dialog.addEventListener("click", (ev) => {
    if (ev.target === dialog) shut();
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  close.focus();
}
