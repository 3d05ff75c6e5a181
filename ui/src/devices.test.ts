import { describe, expect, it } from "vitest";

import { backendLines } from "./devices";

describe("the device list", () => {
  it("names each backend, what it runs on, or why not", () => {
    expect(backendLines([
      { device: "cpu", compiled: true, available: true, detail: "avx512 kernels" },
      { device: "cuda", compiled: true, available: false, detail: "CUDA needs libcuda.so.1" },
      { device: "metal", compiled: false, available: false, detail: "no Metal support" },
    ])).toEqual([
      "CPU: avx512 kernels",
      "NVIDIA GPU (CUDA): unavailable (CUDA needs libcuda.so.1)",
      "Apple GPU (Metal): not in this build",
    ]);
    expect(backendLines([{ device: "cuda", compiled: true, available: true, detail: "cuda:0" }]))
      .toEqual(["NVIDIA GPU (CUDA): cuda:0"]);
  });
});
