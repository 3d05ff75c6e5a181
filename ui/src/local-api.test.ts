import { describe, expect, it } from "vitest";
import { curlHint, exposureWarning, portProblem, settingsUrl, statusLine } from "./local-api";

const api = { enabled: true, host: "127.0.0.1", port: 8080, apiKey: null };

describe("the local API's status line", () => {
  it("says where it serves, or why not", () => {
    expect(statusLine({ running: true, url: "http://127.0.0.1:8080/v1", error: null }, true)).toEqual({
      tone: "ok", text: "Serving at http://127.0.0.1:8080/v1", url: "http://127.0.0.1:8080/v1", code: null,
    });
    const taken = statusLine({ running: false, url: null, error: { code: "addr_in_use", message: "port 8080 is already in use" } }, true);
    expect(taken).toEqual({ tone: "error", text: "Not serving: port 8080 is already in use", url: null, code: "addr_in_use" });
    expect(statusLine({ running: false, url: null, error: null }, true).tone).toBe("error");
    expect(statusLine({ running: false, url: null, error: null }, false)).toMatchObject({ tone: "off", url: null });
    expect(statusLine(null, true)).toMatchObject({ tone: "pending", text: "Checking…" });
  });

  it("tells how to call it", () => {
    expect(curlHint("http://127.0.0.1:8080/v1", false)).toBe(
      `curl http://127.0.0.1:8080/v1/chat/completions -H "Content-Type: application/json" -d '{"messages":[{"role":"user","content":"Hello!"}]}'`,
    );
    const keyed = curlHint("http://127.0.0.1:8080/v1", true);
    expect(keyed).toContain(`-H "Authorization: Bearer $API_KEY"`);
    expect(settingsUrl(api)).toBe("http://127.0.0.1:8080/v1");
    expect(settingsUrl({ ...api, host: "0.0.0.0", port: 9000 })).toBe("http://127.0.0.1:9000/v1");
    expect(settingsUrl({ ...api, host: "::1" })).toBe("http://[::1]:8080/v1");
  });

  it("warns when the network can use it without a key", () => {
    expect(exposureWarning(api)).toBeNull();
    expect(exposureWarning({ ...api, host: "0.0.0.0" })).toMatch(/API key/);
    expect(exposureWarning({ ...api, host: "0.0.0.0", apiKey: "k" })).toBeNull();
    expect(exposureWarning({ ...api, host: "0.0.0.0", enabled: false })).toBeNull();
  });

  it("checks the port", () => {
    expect(portProblem("8080")).toBeNull();
    expect(portProblem("1")).toBeNull();
    expect(portProblem("65535")).toBeNull();
    for (const bad of ["0", "65536", "", "80.5", "-1", "abc"]) expect(portProblem(bad), bad).not.toBeNull();
  });
});
