#!/usr/bin/env python3
"""Random-weight models with the SmolVLM family's exact shapes, for speed comparisons with
llama.cpp (not for accuracy: the weights are noise, so the text is word salad).

    python scripts/bench/make_bench_model.py [--size 256m|500m|2.2b] [--out DIR] [--llama-cpp DIR]

Needs torch, transformers 5.24, safetensors, numpy (scripts/fixtures/requirements.txt) and
sentencepiece (the converter imports it), the
llama.cpp source tree that scripts/bench/build-llama-cpp.sh unpacks (its convert_hf_to_gguf.py
and gguf-py; default /work/llama.cpp/llama_cpp_python-0.3.36/vendor/llama.cpp, or
$LLAMA_CPP_SRC) and, for Q4_K_M, its llama-quantize ($LLAMA_CPP_BIN, default /work/llama.cpp/bin).
Writes into --out (default target/bench-model for 256m, target/bench-model-SIZE otherwise; not
committed, made again on demand):

    hf/                      Idefics3ForConditionalGeneration folder (safetensors, float32 for
                             256m, bfloat16 as the hub's for 500m and 2.2b; config.json in the
                             hub's 4.x style, processor files, tokenizer)
    text-f16.gguf            decoder, llama arch, f16       (convert_hf_to_gguf.py --outtype f16)
    text-q8_0.gguf           decoder, q8_0                  (--outtype q8_0)
    text-q4_k_m.gguf         decoder, Q4_K_M                (llama-quantize text-f16.gguf Q4_K_M)
    mmproj-f16.gguf          vision tower + connector, f16  (--mmproj --outtype f16)
    mmproj-q8_0.gguf         vision tower + connector, q8_0 (--mmproj --outtype q8_0)
    bench.png                a 512x512 test image
    page.png                 a 1536x2048 document page (lines of text, a table, a figure)
    MANIFEST.json            shapes, seed, sha256 of every file

Shapes, from the hub's config.json of each model (vision / connector / decoder):
  256m  SmolVLM-256M-Instruct: SigLIP-B/16 at 512 px (768 wide, 12 layers, 12 heads, MLP 3072),
        pixel shuffle 4 -> 64 tokens per tile, longest edge 2048; SmolLM2-135M: 576 wide,
        30 layers, 9 heads / 3 KV heads, MLP 1536, rope_theta 1e5.
  500m  SmolVLM-500M-Instruct: the same tower and processor; SmolLM2-360M: 960 wide, 32 layers,
        15 heads / 5 KV heads, MLP 2560, rope_theta 1e5.
  2.2b  SmolVLM-Instruct: SigLIP-SO400M/14 at 384 px (1152 wide, 27 layers, 16 heads, MLP 4304,
        27x27 patches), pixel shuffle 3 -> 81 tokens per tile, longest edge 1536 (N = 4; the
        document preset is N = 5, 1920); SmolLM2-1.7B: 2048 wide, 24 layers, 32 heads / 32 KV
        heads, MLP 8192, rope_theta 273768, 16384 positions.
All: head_dim 64, untied lm_head, vocab 49280. The tokenizer (SmolLM2's BPE + SmolVLM-256M's
added tokens) and chat template are copied from tests/fixtures/tiny-smolvlm/; SmolVLM-Instruct's
own vocabulary is 49155 (its image token 49153), so its bench model's embedding and lm_head are
0.25 % larger than the real ones -- nothing a speed figure can see.

llama.cpp runs a pair (scripts/bench/build-llama-cpp.sh), e.g.

    /work/llama.cpp/bin/llama-mtmd-cli -m target/bench-model/text-q8_0.gguf \
        --mmproj target/bench-model/mmproj-q8_0.gguf --image target/bench-model/bench.png \
        -p describe -n 8 -t 2 --temp 0

Init: torch.Generator seed 0; every >= 2-D weight ~ N(0, 0.02), norm weights 1, biases 0 (an
ordinary transformer init, so activations stay finite in f16 through the layers). Deterministic:
a rerun writes the same safetensors. The converter needs
``text_config.architectures = ["VLlama3ForCausalLM"]`` to pick its llama text path for SmolVLM,
which the hub-4.x style config.json written here has.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKENIZER_DIR = REPO / "tests" / "fixtures" / "tiny-smolvlm"
DEFAULT_LLAMA_CPP = Path("/work/llama.cpp/llama_cpp_python-0.3.36/vendor/llama.cpp")

SEED = 0
STD = 0.02
VOCAB = 49280
IMAGE_TOKEN_ID = 49190
BOS_ID, PAD_ID, EOS_ID = 1, 2, 49279

SIGLIP_B16_512 = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                      num_attention_heads=12, image_size=512, patch_size=16, num_channels=3)
SIZES = {
    "256m": dict(
        what="SmolVLM-256M-Instruct", vision=SIGLIP_B16_512, scale_factor=4, longest_edge=2048,
        text=dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                  num_key_value_heads=3, max_position_embeddings=8192, rope_theta=100000.0),
        dtype="float32"),
    "500m": dict(
        what="SmolVLM-500M-Instruct", vision=SIGLIP_B16_512, scale_factor=4, longest_edge=2048,
        text=dict(hidden_size=960, intermediate_size=2560, num_hidden_layers=32, num_attention_heads=15,
                  num_key_value_heads=5, max_position_embeddings=8192, rope_theta=100000.0),
        dtype="bfloat16"),
    "2.2b": dict(
        what="SmolVLM-Instruct (2.2B)",
        vision=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27,
                    num_attention_heads=16, image_size=384, patch_size=14, num_channels=3),
        scale_factor=3, longest_edge=1536,
        text=dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=24, num_attention_heads=32,
                  num_key_value_heads=32, max_position_embeddings=16384, rope_theta=273768.0),
        dtype="bfloat16"),
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dump_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def hub4_config(size: dict) -> dict:
    import transformers

    TEXT, VISION = size["text"], size["vision"]
    text = {
        "architectures": ["VLlama3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "head_dim": TEXT["hidden_size"] // TEXT["num_attention_heads"],
        "hidden_act": "silu",
        "hidden_size": TEXT["hidden_size"],
        "initializer_range": STD,
        "intermediate_size": TEXT["intermediate_size"],
        "max_position_embeddings": TEXT["max_position_embeddings"],
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": TEXT["num_attention_heads"],
        "num_hidden_layers": TEXT["num_hidden_layers"],
        "num_key_value_heads": TEXT["num_key_value_heads"],
        "pad_token_id": PAD_ID,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": TEXT["rope_theta"],
        "tie_word_embeddings": False,
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    vision = dict(attention_dropout=0.0, hidden_act="gelu_pytorch_tanh", initializer_range=STD,
                  layer_norm_eps=1e-06, model_type="idefics3_vision", **VISION)
    return {
        "architectures": ["Idefics3ForConditionalGeneration"],
        "image_token_id": IMAGE_TOKEN_ID,
        "model_type": "idefics3",
        "pad_token_id": 128002,
        "scale_factor": size["scale_factor"],
        "text_config": text,
        "tie_word_embeddings": False,
        "torch_dtype": size["dtype"],
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "vision_config": vision,
        "vocab_size": VOCAB,
    }


def write_hf_folder(hf: Path, size: dict) -> dict:
    import torch
    from transformers import AutoModelForImageTextToText, Idefics3Config

    TEXT, VISION, SCALE_FACTOR = size["text"], size["vision"], size["scale_factor"]
    torch.manual_seed(SEED)
    text_kwargs = dict(model_type="llama", hidden_size=TEXT["hidden_size"],
                       num_hidden_layers=TEXT["num_hidden_layers"],
                       num_attention_heads=TEXT["num_attention_heads"],
                       num_key_value_heads=TEXT["num_key_value_heads"],
                       intermediate_size=TEXT["intermediate_size"], vocab_size=VOCAB,
                       rope_parameters={"rope_type": "default", "rope_theta": TEXT["rope_theta"]},
                       rms_norm_eps=1e-5, max_position_embeddings=TEXT["max_position_embeddings"],
                       attention_bias=False, mlp_bias=False, tie_word_embeddings=False,
                       bos_token_id=BOS_ID, eos_token_id=EOS_ID, pad_token_id=PAD_ID,
                       initializer_range=STD)
    config = Idefics3Config(vision_config=dict(VISION, initializer_range=STD), text_config=text_kwargs,
                            scale_factor=SCALE_FACTOR, image_token_id=IMAGE_TOKEN_ID,
                            tie_word_embeddings=False)
    model = AutoModelForImageTextToText.from_config(config).eval()
    g = torch.Generator().manual_seed(SEED)
    n_params = 0
    with torch.no_grad():
        for name, p in model.named_parameters():
            n_params += p.numel()
            if "norm" in name and name.endswith(".weight"):
                p.fill_(1.0)
            elif name.endswith(".bias"):
                p.zero_()
            elif p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=g) * STD)
            else:
                raise RuntimeError(f"unexpected parameter {name} {tuple(p.shape)}")
    hf.mkdir(parents=True, exist_ok=True)
    # Drawn in float32 either way, so a size's values do not depend on the stored type.
    model.to(getattr(torch, size["dtype"]))
    model.save_pretrained(hf)
    # config.json as the hub's SmolVLM repos have it (transformers-4.x keys), which is also what
    # llama.cpp's converter expects (text_config.architectures, plain rope_theta).
    dump_json(hf / "config.json", hub4_config(size))
    tile = VISION["image_size"]
    image_seq_len = (tile // VISION["patch_size"]) ** 2 // SCALE_FACTOR**2
    dump_json(hf / "preprocessor_config.json", {
        "do_convert_rgb": True, "do_image_splitting": True, "do_normalize": True, "do_pad": True,
        "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_processor_type": "Idefics3ImageProcessor", "image_std": [0.5, 0.5, 0.5],
        "max_image_size": {"longest_edge": tile}, "processor_class": "Idefics3Processor",
        "resample": 1, "rescale_factor": 1 / 255, "size": {"longest_edge": size["longest_edge"]},
    })
    dump_json(hf / "processor_config.json",
              {"image_seq_len": image_seq_len, "processor_class": "Idefics3Processor"})
    dump_json(hf / "generation_config.json",
              {"bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "pad_token_id": PAD_ID})
    for f in ("tokenizer.json", "tokenizer_config.json", "chat_template.json"):
        shutil.copyfile(TOKENIZER_DIR / f, hf / f)
    return {"parameters": n_params, "image_seq_len": image_seq_len}


def write_image(path: Path) -> None:
    """A 512x512 RGB image with gradients and shapes (deterministic)."""
    import numpy as np
    from PIL import Image, ImageDraw

    y, x = np.mgrid[0:512, 0:512]
    rgb = np.stack([x / 2, y / 2, (x + y) / 4], axis=-1).astype(np.uint8)
    img = Image.fromarray(rgb, "RGB")
    d = ImageDraw.Draw(img)
    d.ellipse((100, 120, 300, 320), fill=(230, 40, 40))
    d.rectangle((280, 60, 460, 200), fill=(30, 200, 90))
    d.text((40, 440), "bench image 512x512", fill=(255, 255, 255))
    img.save(path, optimize=False)


def write_page(path: Path) -> None:
    """A 1536x2048 document page: a title, paragraphs of text, a table and a chart (deterministic).
    At SmolVLM-Instruct's document preset (longest edge 1920) it is 4 x 5 tiles + the global view."""
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(SEED)
    img = Image.new("RGB", (1536, 2048), (250, 250, 246))
    d = ImageDraw.Draw(img)
    d.rectangle((96, 96, 1440, 180), fill=(30, 60, 120))
    d.text((120, 124), "QUARTERLY REPORT -- bench page 1536x2048", fill=(255, 255, 255))
    words = "the of and to in model image token vision tile decoder prefill cache page table".split()
    y = 230
    for _ in range(40):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(12, 22)))
        d.text((120, y), line, fill=(20, 20, 20))
        y += 26
    for r in range(8):
        for c in range(5):
            x0, y0 = 120 + c * 260, 1330 + r * 44
            d.rectangle((x0, y0, x0 + 260, y0 + 44), outline=(60, 60, 60), fill=(235, 240, 250) if r == 0 else None)
            d.text((x0 + 10, y0 + 14), f"{rng.randint(0, 99999):>6}", fill=(10, 10, 10))
    for i in range(12):
        h = rng.randint(40, 220)
        d.rectangle((140 + i * 100, 1960 - h, 200 + i * 100, 1960), fill=(200, 80 + 10 * i, 40))
    img.save(path, optimize=False)


def quantize(llama_bin: Path, src: Path, dst: Path, kind: str) -> None:
    cmd = [str(llama_bin / "llama-quantize"), str(src), str(dst), kind]
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"llama-quantize failed ({r.returncode})")


def convert(llama_cpp: Path, hf: Path, out: Path, outtype: str, mmproj: bool) -> None:
    cmd = [sys.executable, str(llama_cpp / "convert_hf_to_gguf.py"), str(hf), "--outfile", str(out),
           "--outtype", outtype]
    if mmproj:
        cmd.append("--mmproj")
    env = dict(os.environ, PYTHONPATH=str(llama_cpp / "gguf-py"))
    print("+", " ".join(cmd), flush=True)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-4000:], r.stderr[-4000:], sep="\n", file=sys.stderr)
        raise SystemExit(f"convert_hf_to_gguf.py failed ({r.returncode})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", choices=sorted(SIZES), default="256m")
    ap.add_argument("--out", type=Path, help="default: target/bench-model[-SIZE]")
    ap.add_argument("--llama-cpp", type=Path, default=Path(os.environ.get("LLAMA_CPP_SRC", DEFAULT_LLAMA_CPP)))
    ap.add_argument("--llama-bin", type=Path, default=Path(os.environ.get("LLAMA_CPP_BIN", "/work/llama.cpp/bin")))
    args = ap.parse_args()
    size = SIZES[args.size]
    if args.out is None:
        args.out = REPO / "target" / ("bench-model" if args.size == "256m" else f"bench-model-{args.size}")
    if not (args.llama_bin / "llama-quantize").is_file():
        print(f"{args.llama_bin}/llama-quantize not found: run scripts/bench/build-llama-cpp.sh "
              "or pass --llama-bin", file=sys.stderr)
        return 1
    if not (args.llama_cpp / "convert_hf_to_gguf.py").is_file():
        print(f"{args.llama_cpp}/convert_hf_to_gguf.py not found: run scripts/bench/build-llama-cpp.sh "
              "or pass --llama-cpp", file=sys.stderr)
        return 1
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    hf = out / "hf"
    facts = write_hf_folder(hf, size)
    write_image(out / "bench.png")
    write_page(out / "page.png")
    for outtype in ("f16", "q8_0"):
        convert(args.llama_cpp, hf, out / f"text-{outtype}.gguf", outtype, mmproj=False)
        convert(args.llama_cpp, hf, out / f"mmproj-{outtype}.gguf", outtype, mmproj=True)
    quantize(args.llama_bin, out / "text-f16.gguf", out / "text-q4_k_m.gguf", "Q4_K_M")
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "MANIFEST.json")
    manifest = {
        "what": f"random-weight {size['what']} shapes for benchmarks (scripts/bench/make_bench_model.py --size {args.size})",
        "seed": SEED,
        "init_std": STD,
        "vision": size["vision"],
        "text": size["text"],
        "vocab_size": VOCAB,
        "scale_factor": size["scale_factor"],
        "longest_edge": size["longest_edge"],
        "dtype": size["dtype"],
        **facts,
        "llama_cpp": str(args.llama_cpp),
        "files": {str(p.relative_to(out)): {"bytes": p.stat().st_size, "sha256": sha256(p)} for p in files},
    }
    dump_json(out / "MANIFEST.json", manifest)
    for name, info in manifest["files"].items():
        print(f"{info['bytes']:>12,}  {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
