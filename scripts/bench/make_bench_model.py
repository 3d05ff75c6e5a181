#!/usr/bin/env python3
"""A random-weight model with SmolVLM-256M-Instruct's exact shapes, for speed comparisons with
llama.cpp (not for accuracy: the weights are noise, so the text is word salad).

    python scripts/bench/make_bench_model.py [--out target/bench-model] [--llama-cpp DIR]

Needs torch, transformers 5.24, safetensors, numpy (scripts/fixtures/requirements.txt) and the
llama.cpp source tree that scripts/bench/build-llama-cpp.sh unpacks (its convert_hf_to_gguf.py
and gguf-py; default /work/llama.cpp/llama_cpp_python-0.3.36/vendor/llama.cpp, or
$LLAMA_CPP_SRC). Writes into --out:

    hf/                      Idefics3ForConditionalGeneration folder (float32 safetensors,
                             config.json in the hub's 4.x style, processor files, tokenizer)
    text-f16.gguf            decoder, llama arch, f16       (convert_hf_to_gguf.py --outtype f16)
    text-q8_0.gguf           decoder, q8_0                  (--outtype q8_0)
    mmproj-f16.gguf          vision tower + connector, f16  (--mmproj --outtype f16)
    mmproj-q8_0.gguf         vision tower + connector, q8_0 (--mmproj --outtype q8_0)
    bench.png                a 512x512 test image (one 512 tile + global view = 17 frames on 256M)
    MANIFEST.json            shapes, seed, sha256 of every file

Shapes (SmolVLM-256M-Instruct): SigLIP-B/16 at 512 px (768 wide, 12 layers, 12 heads, MLP 3072,
32x32 patches), pixel shuffle scale 4 -> 64 tokens per tile, connector 768*16 -> 576; decoder
SmolLM2-135M layout: 576 wide, 30 layers, 9 heads / 3 KV heads (head_dim 64), MLP 1536, vocab
49280, rope_theta 1e5, untied lm_head. Processor: tiles of 512, longest edge 2048.
The tokenizer (49,280 tokens: SmolLM2's BPE + SmolVLM's added tokens) and chat template are
copied from tests/fixtures/tiny-smolvlm/.

llama.cpp runs the pair (scripts/bench/build-llama-cpp.sh; 17 tiles for the 512x512 image):

    /work/llama.cpp/bin/llama-mtmd-cli -m target/bench-model/text-q8_0.gguf \
        --mmproj target/bench-model/mmproj-q8_0.gguf --image target/bench-model/bench.png \
        -p describe -n 8 -t 2 --temp 0
    # prints "mtmd batch encoding done in N ms" per tile: 3.0-4.6 s on 2 shared AVX-512 cores

Init: torch.Generator seed 0; every >= 2-D weight ~ N(0, 0.02), norm weights 1, biases 0 (an
ordinary transformer init, so activations stay finite in f16 through 30 layers). Deterministic:
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

VISION = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
              image_size=512, patch_size=16, num_channels=3)
TEXT = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
            num_key_value_heads=3, max_position_embeddings=8192, rope_theta=100000.0)
SCALE_FACTOR = 4
LONGEST_EDGE = 2048


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dump_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def hub4_config() -> dict:
    import transformers

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
        "scale_factor": SCALE_FACTOR,
        "text_config": text,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "vision_config": vision,
        "vocab_size": VOCAB,
    }


def write_hf_folder(hf: Path) -> dict:
    import torch
    from transformers import AutoModelForImageTextToText, Idefics3Config

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
    model.save_pretrained(hf)
    # config.json as the hub's SmolVLM repos have it (transformers-4.x keys), which is also what
    # llama.cpp's converter expects (text_config.architectures, plain rope_theta).
    dump_json(hf / "config.json", hub4_config())
    tile = VISION["image_size"]
    image_seq_len = (tile // VISION["patch_size"]) ** 2 // SCALE_FACTOR**2
    dump_json(hf / "preprocessor_config.json", {
        "do_convert_rgb": True, "do_image_splitting": True, "do_normalize": True, "do_pad": True,
        "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
        "image_processor_type": "Idefics3ImageProcessor", "image_std": [0.5, 0.5, 0.5],
        "max_image_size": {"longest_edge": tile}, "processor_class": "Idefics3Processor",
        "resample": 1, "rescale_factor": 1 / 255, "size": {"longest_edge": LONGEST_EDGE},
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
    ap.add_argument("--out", type=Path, default=REPO / "target" / "bench-model")
    ap.add_argument("--llama-cpp", type=Path, default=Path(os.environ.get("LLAMA_CPP_SRC", DEFAULT_LLAMA_CPP)))
    args = ap.parse_args()
    if not (args.llama_cpp / "convert_hf_to_gguf.py").is_file():
        print(f"{args.llama_cpp}/convert_hf_to_gguf.py not found: run scripts/bench/build-llama-cpp.sh "
              "or pass --llama-cpp", file=sys.stderr)
        return 1
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    hf = out / "hf"
    facts = write_hf_folder(hf)
    write_image(out / "bench.png")
    for outtype in ("f16", "q8_0"):
        convert(args.llama_cpp, hf, out / f"text-{outtype}.gguf", outtype, mmproj=False)
        convert(args.llama_cpp, hf, out / f"mmproj-{outtype}.gguf", outtype, mmproj=True)
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "MANIFEST.json")
    manifest = {
        "what": "random-weight SmolVLM-256M-Instruct shapes for benchmarks (scripts/bench/make_bench_model.py)",
        "seed": SEED,
        "init_std": STD,
        "vision": VISION,
        "text": TEXT,
        "vocab_size": VOCAB,
        "scale_factor": SCALE_FACTOR,
        "longest_edge": LONGEST_EDGE,
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
