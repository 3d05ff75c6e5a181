#!/usr/bin/env python3
"""What the local API costs over the engine itself, and what prefix reuse saves.

Not a test: it measures, and prints a markdown table.

    cargo build --release -p smolvlm-cli
    python3 scripts/bench/api_bench.py [--bin target/release/smolvlm] [--model DIR|GGUF]
        [--mmproj GGUF] [--image PNG] [--requests 20] [--max-tokens 32] [--threads N]

1. `smolvlm generate --json` on one image and prompt, `--requests` times: its in-process work
   (vision + prefill + decode, from its own timings) — what one answer costs without HTTP.
2. The same question over `POST /v1/chat/completions` to `smolvlm serve` (one client, one
   request after another; the same greedy tokens): requests/s and latency (p50, p95); the API's
   overhead is the latency less the engine's own time for that request (from the `smolvlm`
   extension): JSON, base64, HTTP, the queue hand-off, and the image's decoding and resizing
   (which `generate` does too, but its timings do not count). Every API request after the first
   repeats the previous prompt, so the server's KV cache already holds it: the table says how
   much of each prompt was reused.
3. Time to first token over a stream: the first question about a new image (encoded, prefilled
   in full) against a follow-up question about the same image (its tokens come from the cache).

Only the Python standard library is used, so it runs without the test venv.
"""

import argparse
import base64
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests/fixtures/tiny-smolvlm"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bin", default=str(ROOT / "target/release/smolvlm"))
    p.add_argument("--model", default=str(FIXTURE))
    p.add_argument("--mmproj")
    p.add_argument("--image", default=str(FIXTURE / "img_wide_300x200.png"))
    p.add_argument("--prompt", default="What is in this image?")
    p.add_argument("--requests", type=int, default=20)
    p.add_argument("--max-tokens", type=int, default=32)
    p.add_argument("--threads", type=int)
    return p.parse_args()


def model_flags(a):
    flags = ["--model", a.model]
    if a.mmproj:
        flags += ["--mmproj", a.mmproj]
    if a.threads:
        flags += ["--threads", str(a.threads)]
    return flags


def engine_s(timings):
    return timings["vision_s"] + timings["prefill_s"] + timings["decode_s"]


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def run_generate(a):
    runs = []
    for _ in range(a.requests):
        start = time.perf_counter()
        out = subprocess.run(
            [a.bin, "generate", *model_flags(a), "--image", a.image, "--prompt", a.prompt,
             "--max-new-tokens", str(a.max_tokens), "--json"],
            check=True, capture_output=True, text=True,
        )
        wall = time.perf_counter() - start
        j = json.loads(out.stdout)
        runs.append((wall, engine_s(j["timings"]), j))
    return runs


class Server:
    def __init__(self, a):
        self.proc = subprocess.Popen(
            [a.bin, "serve", *model_flags(a), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.kill()
            sys.exit(f"serve did not start: {line!r}")
        self.base = line.split("listening on ", 1)[1].strip()

    def post(self, body):
        req = urllib.request.Request(
            self.base + "/v1/chat/completions", data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        return urllib.request.urlopen(req, timeout=600)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def messages(url, prompt, history=()):
    return [*history, {"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}},
        {"type": "text", "text": prompt},
    ]}]


def run_api(a, server, url):
    runs = []
    for _ in range(a.requests):
        body = {"messages": messages(url, a.prompt), "max_tokens": a.max_tokens, "temperature": 0}
        start = time.perf_counter()
        with server.post(body) as r:
            j = json.load(r)
        wall = time.perf_counter() - start
        runs.append((wall, engine_s(j["smolvlm"]["timings"]), j))
    return runs


def ttft(server, msgs, max_tokens):
    """Seconds to the first content delta of a stream, and the answer's text."""
    body = {"messages": msgs, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    start = time.perf_counter()
    first, text, cached = None, [], 0
    with server.post(body) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            for c in chunk["choices"]:
                if c["delta"].get("content"):
                    first = first or time.perf_counter() - start
                    text.append(c["delta"]["content"])
            if chunk.get("usage"):
                cached = chunk["usage"]["prompt_tokens_details"]["cached_tokens"]
    return first, "".join(text), cached


def main():
    a = parse_args()
    url = "data:image/png;base64," + base64.b64encode(Path(a.image).read_bytes()).decode()
    gen = run_generate(a)
    server = Server(a)
    try:
        api = run_api(a, server, url)
        # A different image first, so the question below starts from a cold cache.
        other = FIXTURE / "img_tall_96x300.png"
        other_url = "data:image/png;base64," + base64.b64encode(other.read_bytes()).decode()
        ttft(server, messages(other_url, "Describe it."), 2)
        cold, answer, _ = ttft(server, messages(url, a.prompt), a.max_tokens)
        history = messages(url, a.prompt) + [{"role": "assistant", "content": answer}]
        warm, _, cached = ttft(server, [*history, {"role": "user", "content": "And its colours?"}],
                               a.max_tokens)
    finally:
        server.stop()

    same = all(r[2]["smolvlm"]["token_ids"] == gen[0][2]["token_ids"] for r in api)
    gen_engine = [r[1] for r in gen]
    api_wall = [r[0] for r in api]
    overhead = [r[0] - r[1] for r in api]
    reused = api[-1][2]["usage"]["prompt_tokens_details"]["cached_tokens"]
    prompt = api[-1][2]["usage"]["prompt_tokens"]
    print(f"model `{a.model}`, image `{Path(a.image).name}`, {a.max_tokens} tokens, "
          f"{a.requests} requests each; API tokens equal generate's: {same}\n")
    print("| measure | value |")
    print("|---|---|")
    print(f"| `generate` process, wall (load included), median | {statistics.median(r[0] for r in gen):.3f} s |")
    print(f"| `generate` engine work (vision+prefill+decode), median | {statistics.median(gen_engine):.3f} s |")
    print(f"| API requests/s, one client, sequential | {len(api) / sum(api_wall):.2f} |")
    print(f"| API latency p50 / p95 | {pct(api_wall, 0.5):.3f} / {pct(api_wall, 0.95):.3f} s |")
    print(f"| API overhead over the engine's work, p50 / p95 | {pct(overhead, 0.5) * 1000:.1f} / {pct(overhead, 0.95) * 1000:.1f} ms |")
    print(f"| API repeated prompt reused from the cache | {reused} of {prompt} tokens |")
    print(f"| time to first token, first question on a new image | {cold:.3f} s |")
    print(f"| time to first token, follow-up on the same image | {warm:.3f} s ({cached} tokens cached) |")


if __name__ == "__main__":
    main()
