#!/usr/bin/env python3
"""Regenerates template_goldens.json: chat templates rendered by transformers (jinja2), plus tokenizer
encode/decode cases, for the smolvlm-text crate's tests.

Run from the repository root with the oracle venv:

    /root/fxenv/bin/python crates/smolvlm-text/tests/data/make_goldens.py

Renders go through `processor.apply_chat_template(messages, chat_template=T, add_generation_prompt=G)` of the
tiny-smolvlm fixture's processor (transformers passes `tokenizer.special_tokens_map` as template variables),
encodes through `processor.tokenizer(text)` (what `Idefics3Processor.__call__` does), decodes through
`processor.tokenizer.decode(ids, skip_special_tokens=...)`.
"""

import json
import os
import random
import sys

import jinja2
import tokenizers
import transformers
from transformers import AutoProcessor
from transformers.models.smolvlm.processing_smolvlm import DEFAULT_CHAT_TEMPLATE as TRANSFORMERS_SMOLVLM_DEFAULT

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
FIXTURE = os.path.join(ROOT, "tests", "fixtures", "tiny-smolvlm")
OUT = os.path.join(HERE, "template_goldens.json")

# SmolVLM2 (HuggingFaceTB/SmolVLM2-*-Instruct) chat_template.json, recreated offline: the hub file is not
# available here. It is the template transformers' processing_smolvlm.py links as the one to use for videos
# (SmolVLM's template plus a `video` branch); transformers' own DEFAULT_CHAT_TEMPLATE (also tested below) adds
# a branch for string content.
SMOLVLM2_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{message['role'] | capitalize}}"
    "{% if message['content'][0]['type'] == 'image' %}{{':'}}{% else %}{{': '}}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{line['text']}}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% elif line['type'] == 'video' %}{{ '<video>' }}"
    "{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

# A multi-line template in the style of hub templates, exercising what transformers' jinja environment
# offers: trim_blocks/lstrip_blocks, Python string methods, tojson (json.dumps), namespace, loop controls,
# special-token variables, raise_exception, printing of None/bools/lists/dicts, dict.items() order.
# (Python's `str % args` operator is not supported by minijinja and is left out; the `format` filter is.)
PROBE_TEMPLATE = """{{ bos_token }}
{%- set ns = namespace(system='', n=0) %}
{% if messages[0]['role'] == 'system' %}
    {% set ns.system = messages[0]['content'] if messages[0]['content'] is string else messages[0]['content'][0]['text'] %}
{% endif %}
{% if ns.system %}<|system|>{{ ns.system.strip() }}{{ eos_token }}
{% endif %}
{% for message in messages %}
    {% if message['role'] == 'system' %}{% continue %}{% endif %}
    {% if message['role'] not in ['user', 'assistant'] %}
        {{ raise_exception('Unknown role: ' + message['role']) }}
    {% endif %}
    {% set ns.n = ns.n + 1 %}
<|{{ message['role'] }}|>
    {% if message['content'] is string %}
{{ message['content'] | trim }}
    {% else %}
        {% for part in message['content'] %}
            {% if part['type'] == 'image' %}{{ image_token }}{% elif part['type'] == 'text' %}{{ part['text'].lstrip() }}{% else %}[{{ part['type'].upper() }}]{% endif %}
        {% endfor %}

    {% endif %}
    {% if loop.last and message['role'] == 'assistant' %}{{ eos_token }}{% break %}{% endif %}
{% endfor %}
meta: {{ messages[0] | tojson }} | {{ messages | length }} | {{ ns.n }} | {{ tools }} | {{ add_generation_prompt }} | {{ [1, 'a', none, true, 2.5] }} | {{ {'k': 'v'} }}
keys: {% for k, v in messages[-1].items() %}{{ k }},{% endfor %}

words: {{ messages[-1]['content'] | string | length > 0 }} {{ 'a-b-c'.split('-') | join('+') }} {{ 'x'.startswith('x') }} {{ '%s=%d' | format('n', 3) }} {{ 'Hello World'.title() }} {{ '  a b '.rstrip() }}|
{% if add_generation_prompt %}<|assistant|>
{% endif %}"""

TEMPLATES = {
    "tiny_fixture": None,  # the fixture's own chat_template.json, filled in below
    "smolvlm2": SMOLVLM2_TEMPLATE,
    "transformers_smolvlm_default": TRANSFORMERS_SMOLVLM_DEFAULT,
    "probe": PROBE_TEMPLATE,
}


def text(t):
    return {"type": "text", "text": t}


IMAGE = {"type": "image"}
VIDEO = {"type": "video"}

CONVERSATIONS = {
    "single_image": [{"role": "user", "content": [IMAGE, text("What is in this image?")]}],
    "two_images": [{"role": "user", "content": [IMAGE, IMAGE, text("Compare the two images.")]}],
    "text_only": [{"role": "user", "content": [text("Write a haiku about the sea.")]}],
    "system_multiturn_late_images": [
        {"role": "system", "content": [text("  You are a helpful assistant.\n")]},
        {"role": "user", "content": [text("Hello! Can you see images?")]},
        {"role": "assistant", "content": [text("Yes, send one.")]},
        {"role": "user", "content": [text("Here:"), IMAGE, text(" and another "), IMAGE, text("Which is brighter?")]},
        {"role": "assistant", "content": [text("The first one.")]},
        {"role": "user", "content": [IMAGE, text("And this one? 日本語 ✓ 🌊")]},
    ],
    "ends_with_assistant": [
        {"role": "user", "content": [IMAGE, text("Describe.")]},
        {"role": "assistant", "content": [text(" A cat on a mat. ")]},
    ],
    "video": [{"role": "user", "content": [VIDEO, text("What happens in this video?")]}],
    "video_and_image_system": [
        {"role": "system", "content": [text("Be brief.")]},
        {"role": "user", "content": [text("Look: "), VIDEO, IMAGE, text("Same scene?")]},
    ],
    "string_content": [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "What is the capital of Italy?"},
    ],
    "bad_role": [{"role": "tool", "content": [text("42")]}],
}


def render(processor, template, messages, add_generation_prompt):
    try:
        out = processor.apply_chat_template(
            messages, chat_template=template, add_generation_prompt=add_generation_prompt, tokenize=False
        )
        return {"rendered": out}
    except jinja2.exceptions.TemplateError as e:  # raise_exception and jinja errors
        return {"error": type(e).__name__, "message": str(e)}
    except Exception as e:  # noqa: BLE001 - recorded as a golden outcome
        return {"error": type(e).__name__, "message": str(e)}


def main():
    processor = AutoProcessor.from_pretrained(FIXTURE)
    tok = processor.tokenizer
    with open(os.path.join(FIXTURE, "chat_template.json"), encoding="utf-8") as f:
        TEMPLATES["tiny_fixture"] = json.load(f)["chat_template"]

    renders = []
    for tname, template in TEMPLATES.items():
        for cname, conv in CONVERSATIONS.items():
            for agp in (True, False):
                r = render(processor, template, json.loads(json.dumps(conv)), agp)
                renders.append(
                    {
                        "template": tname,
                        "conversation": cname,
                        "add_generation_prompt": agp,
                        **r,
                    }
                )

    encode_texts = [
        "<|im_start|>User:<image>What is in this image?<end_of_utterance>\nAssistant:",
        "Hello, world! 12345 and 3.14159",
        "  leading spaces,\ttabs\n\nand blank lines\n\n\n",
        "日本語のテキストと中文 and emoji 🌊🐱‍👤👍🏽",
        "<fake_token_around_image><global-img><image><image><fake_token_around_image>\n\n<row_6_col_6>",
        "<|im_end|><|endoftext|><end_of_utterance>text<image>more",
        "Ünïcödé àccents — “quotes” ‘single’ … ½ ∑ ∫",
        "code: def f(x):\n    return x**2  # comment",
        "",
        " ",
    ]
    encodes = [{"text": t, "ids": tok(t)["input_ids"]} for t in encode_texts]

    rng = random.Random(1234)
    n = len(tok)
    decode_ids = [
        encodes[3]["ids"],
        encodes[0]["ids"],
        [49190, 49189, 1, 2, 0, 198, 1116, 49279],
        [rng.randrange(n) for _ in range(64)],
        [rng.randrange(n) for _ in range(64)],
        [rng.randrange(256) for _ in range(64)],
        [n + 5, 100, n + 100],
    ]
    decodes = []
    for ids in decode_ids:
        for skip in (False, True):
            decodes.append({"ids": ids, "skip_special_tokens": skip, "text": tok.decode(ids, skip_special_tokens=skip)})

    goldens = {
        "generator": "crates/smolvlm-text/tests/data/make_goldens.py",
        "versions": {
            "python": sys.version.split()[0],
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "jinja2": jinja2.__version__,
        },
        "special_tokens_map": tok.special_tokens_map,
        "templates": TEMPLATES,
        "conversations": {k: json.dumps(v, ensure_ascii=False) for k, v in CONVERSATIONS.items()},
        "renders": renders,
        "vocab_len": n,
        "encodes": encodes,
        "decodes": decodes,
    }
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(goldens, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_err = sum(1 for r in renders if "error" in r)
    print(f"wrote {OUT}: {len(renders)} renders ({n_err} errors), {len(encodes)} encodes, {len(decodes)} decodes")


if __name__ == "__main__":
    main()
