import { describe, expect, it } from "vitest";
import type { Connection, ModelStatus, Settings } from "./api";
import {
  activeConnection,
  answeringWith,
  connectionFromDraft,
  connectionId,
  connectionSummary,
  draftProblem,
  expectedAnsweredBy,
} from "./connections";
import { DEFAULT_SETTINGS } from "./settings";

const ID_RULE = /^[A-Za-z0-9_-]{1,64}$/; // what the backend accepts

function conn(id: string, name: string, extra: Partial<Connection> = {}): Connection {
  return { id, name, baseUrl: "http://gpu-box:8000/v1", apiKey: null, model: "", ...extra };
}

const ready: ModelStatus = {
  state: "ready", loading: null, generationId: null, restarts: 0, lastError: null,
  model: { path: "/m", name: "SmolVLM-256M-Instruct", device: "cpu", kernels: "avx2", threads: 4, deviceNotice: null, hasVision: true, contextLength: 8192, loadS: 1 },
};
const empty: ModelStatus = { ...ready, state: "empty", model: null };

describe("connection ids", () => {
  it("are made from the name, within the backend's rule", () => {
    expect(connectionId("GPU box", [])).toBe("gpu-box");
    expect(connectionId("  Büro-Rechner (vLLM) ", [])).toBe("buro-rechner-vllm");
    expect(connectionId("Second", [])).toBe("second");
    for (const name of ["日本語", "!!!", "", "a".repeat(300), "x y/z\\w"]) {
      expect(connectionId(name, []), name).toMatch(ID_RULE);
    }
    expect(connectionId("日本語", [])).toBe("connection");
    expect(connectionId("a".repeat(300), []).length).toBeLessThanOrEqual(64);
  });

  it("are unique among the existing ones", () => {
    expect(connectionId("GPU box", ["gpu-box"])).toBe("gpu-box-2");
    expect(connectionId("GPU box", ["gpu-box", "gpu-box-2", "gpu-box-3"])).toBe("gpu-box-4");
    const long = connectionId("b".repeat(300), ["b".repeat(60)]);
    expect(long).toMatch(ID_RULE);
    expect(long).not.toBe("b".repeat(60));
  });
});

describe("the add form's checks", () => {
  const ok = { name: "GPU box", baseUrl: "http://gpu-box:8000/v1/", apiKey: "", model: "" };

  it("accepts a named http(s) address and saves it normalized", () => {
    expect(draftProblem(ok, [])).toBeNull();
    expect(draftProblem({ ...ok, baseUrl: "https://example.com/v1" }, [])).toBeNull();
    expect(connectionFromDraft({ ...ok, name: " GPU box ", apiKey: " sk-1 ", model: " smolvlm " }, [conn("gpu-box", "Other")])).toEqual({
      id: "gpu-box-2", name: "GPU box", baseUrl: "http://gpu-box:8000/v1", apiKey: "sk-1", model: "smolvlm",
    });
    expect(connectionFromDraft(ok, []).apiKey).toBeNull();
  });

  it("says what is wrong", () => {
    expect(draftProblem({ ...ok, name: "  " }, [])).toMatch(/name/);
    expect(draftProblem({ ...ok, baseUrl: "" }, [])).toMatch(/address/);
    expect(draftProblem({ ...ok, baseUrl: "gpu-box:8000/v1" }, [])).toMatch(/http/);
    expect(draftProblem({ ...ok, baseUrl: "ftp://gpu-box/v1" }, [])).toMatch(/http/);
    expect(draftProblem({ ...ok, baseUrl: "http://gpu box/v1" }, [])).toMatch(/http/);
    expect(draftProblem({ ...ok, apiKey: "kéy" }, [])).toMatch(/ASCII/);
    expect(draftProblem({ ...ok, model: "a\nb" }, [])).toMatch(/model/);
    expect(draftProblem(ok, [conn("x", "gpu BOX")])).toMatch(/already/);
  });

  it("summarizes a connection without its key", () => {
    expect(connectionSummary(conn("a", "A"))).toBe("http://gpu-box:8000/v1 · the server's default model");
    const s = connectionSummary(conn("a", "A", { model: "smolvlm-500m", apiKey: "sk-secret" }));
    expect(s).toBe("http://gpu-box:8000/v1 · model smolvlm-500m · with an API key");
    expect(s).not.toContain("sk-secret");
  });
});

describe("who answers", () => {
  const withConn = (backend: string | null): Settings => ({
    ...DEFAULT_SETTINGS,
    connections: [conn("second", "Second"), conn("gpu", "GPU box", { model: "smolvlm-2b" })],
    backend,
  });

  it("is the connection the backend names, else this computer", () => {
    expect(activeConnection(withConn("gpu"))?.name).toBe("GPU box");
    expect(activeConnection(withConn(null))).toBeNull();
    expect(activeConnection(withConn("gone"))).toBeNull();
    expect(activeConnection(null)).toBeNull();
  });

  it("is labelled as the status bar and the stored messages say it", () => {
    expect(answeringWith(withConn("second"))).toBe("Second");
    expect(answeringWith(withConn("gpu"))).toBe("GPU box · smolvlm-2b");
    expect(answeringWith(withConn(null))).toBe("This computer");
    expect(answeringWith(withConn("gone"))).toBe("This computer");
    expect(expectedAnsweredBy(withConn("gpu"), ready)).toBe("GPU box · smolvlm-2b");
    expect(expectedAnsweredBy(withConn(null), ready)).toBe("SmolVLM-256M-Instruct");
    expect(expectedAnsweredBy(withConn(null), empty)).toBeNull();
  });
});
