// The settings dialog's building blocks: a labelled row (label, control, hint) and the shape of a
// field that reads itself from the settings and writes itself back.

import type { Settings } from "./api";
import { h } from "./dom";

export interface Field {
  el: HTMLElement;
  read(s: Settings): void;
  write(s: Settings): void;
}

let fieldSeq = 0;

/** A fresh element id for a control. */
export function nextFieldId(): string {
  return `setting-${++fieldSeq}`;
}

/** A field row: the label above `control` (labelling it), an optional `extra` beside the label
 * and a hint below (describing it). */
export function row(label: string, control: HTMLElement, hint?: string, extra?: HTMLElement): HTMLElement {
  const id = nextFieldId();
  control.id = id;
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h("div", { class: "field" },
    h("div", { class: "field-label-row" }, h("label", { for: id, text: label }), extra ?? null),
    control,
    hint ? h("p", { class: "field-hint", id: hintId, text: hint }) : null);
}
