// Where a model can run, for the settings' Device row: the CPU with its kernels, and the GPU
// backends this build has (or not), each answering or not and why.

import type { BackendInfo } from "./api";
import { h } from "./dom";

const NAMES: Record<string, string> = { cpu: "CPU", cuda: "NVIDIA GPU (CUDA)", metal: "Apple GPU (Metal)" };

/** One line per backend: "CPU: avx512 kernels", "NVIDIA GPU (CUDA): cuda:0", "… : not in this build". */
export function backendLines(list: BackendInfo[]): string[] {
  return list.map((b) => {
    const name = NAMES[b.device] ?? b.device;
    if (!b.compiled) return `${name}: not in this build`;
    return b.available ? `${name}: ${b.detail}` : `${name}: unavailable (${b.detail})`;
  });
}

/** The element the settings fill when they open; empty until then. */
export function createDevicesEl(): { el: HTMLElement; show(list: BackendInfo[] | null): void } {
  const el = h("ul", { class: "muted device-list", testid: "device-availability" });
  return {
    el,
    show(list) {
      el.replaceChildren(...(list === null ? [h("li", { text: "Checking devices…" })]
        : backendLines(list).map((text, i) => h("li", {
          text, "data-device": list[i]!.device, "data-available": String(list[i]!.available),
        }))));
    },
  };
}
