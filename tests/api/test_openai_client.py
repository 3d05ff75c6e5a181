"""`smolvlm serve` through the official `openai` Python client (scripts/test-api.sh runs this).

The server runs the committed tiny model (random weights: the answers are word salad, but greedy
token ids are exact), so its answers can be compared with `smolvlm generate --json`'s.
"""

import base64
import concurrent.futures
import json
import os
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import openai
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SMOLVLM_BIN", str(ROOT / "target/debug/smolvlm"))
MODEL = ROOT / os.environ.get("SMOLVLM_API_MODEL", "tests/fixtures/tiny-smolvlm")
IMAGE = MODEL / "img_wide_300x200.png"
TALL = MODEL / "img_tall_96x300.png"
QUESTION = "What is in this image?"
# Far below the seconds the long request needs.
PROMPTLY_S = 3.0


def data_url(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def image_turn(url: str, text: str) -> dict:
    return {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": url}},
            {"type": "text", "text": text},
        ],
    }


class Server:
    """`smolvlm serve --port 0`, waited for by its `listening on` line."""

    def __init__(self, *extra: str):
        self.proc = subprocess.Popen(
            [BIN, "serve", "--model", str(MODEL), "--port", "0", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = [None]
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.proc.stdout.readline()))
        reader.start()
        reader.join(60)
        if not line[0] or not line[0].startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"serve did not start: {line[0]!r} {self.proc.stderr.read()}")
        self.base = line[0].split("listening on ", 1)[1].strip()

    def client(self, api_key: str = "unused") -> openai.OpenAI:
        # No retries: a 429 must reach the test as it was sent.
        return openai.OpenAI(base_url=self.base + "/v1", api_key=api_key, max_retries=0, timeout=120)

    def health(self) -> dict:
        with urllib.request.urlopen(self.base + "/health", timeout=10) as r:
            return json.load(r)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    assert s.stop() == 0, "SIGTERM shuts down cleanly"


@pytest.fixture(scope="module")
def client(server):
    return server.client()


def generate_json(*args: str) -> dict:
    out = subprocess.run(
        [BIN, "generate", "--model", str(MODEL), "--json", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout)


def test_streamed_answer_has_the_ids_of_smolvlm_generate(client):
    want = generate_json("--image", str(IMAGE), "--prompt", QUESTION, "--max-new-tokens", "24")
    stream = client.chat.completions.create(
        model="",
        messages=[image_turn(data_url(IMAGE), QUESTION)],
        max_tokens=24,
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    ids = [i for c in chunks for i in ((c.model_extra or {}).get("smolvlm") or {}).get("token_ids", [])]
    assert ids == want["token_ids"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == want["text"]
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish == ["length"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.prompt_tokens == want["prompt_tokens"]
    assert chunks[-1].usage.completion_tokens == 24


def test_whole_answer_counts_image_tokens_in_its_usage(client):
    want = generate_json("--image", str(IMAGE), "--prompt", QUESTION, "--max-new-tokens", "10")
    r = client.chat.completions.create(
        model="tiny-smolvlm",
        messages=[image_turn(data_url(IMAGE), QUESTION)],
        max_completion_tokens=10,
        temperature=0,
    )
    assert r.object == "chat.completion"
    assert r.model == "tiny-smolvlm"
    assert r.choices[0].message.content == want["text"]
    assert r.choices[0].finish_reason == "length"
    assert r.usage.prompt_tokens == want["prompt_tokens"]
    assert want["image_tokens"] > 0 and r.model_extra["smolvlm"]["image_tokens"] == want["image_tokens"]
    assert r.usage.completion_tokens == len(want["token_ids"]) == 10
    assert r.usage.total_tokens == r.usage.prompt_tokens + 10
    assert r.model_extra["smolvlm"]["token_ids"] == want["token_ids"]


def test_a_pdf_file_part_answers_as_smolvlm_generate_on_that_page(client):
    # OpenAI's shape for PDFs, with smolvlm's `pages` extension; both read page 2 at the
    # document preset.
    pdf = ROOT / "tests/fixtures/pdf/rotated.pdf"
    want = generate_json(
        "--image", str(pdf), "--pages", "2", "--prompt", QUESTION, "--max-new-tokens", "10"
    )
    data = "data:application/pdf;base64," + base64.b64encode(pdf.read_bytes()).decode()
    r = client.chat.completions.create(
        model="",
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "file", "file": {"file_data": data, "filename": "rotated.pdf", "pages": "2"}},
                    {"type": "text", "text": QUESTION},
                ],
            }
        ],
        max_tokens=10,
        temperature=0,
    )
    assert r.model_extra["smolvlm"]["token_ids"] == want["token_ids"]
    assert r.usage.prompt_tokens == want["prompt_tokens"]
    assert want["image_tokens"] > 0 and r.model_extra["smolvlm"]["image_tokens"] == want["image_tokens"]


def test_images_in_two_turns(client):
    r = client.chat.completions.create(
        model="tiny-smolvlm",
        messages=[
            {"role": "system", "content": "Answer briefly."},
            image_turn(data_url(IMAGE), "What is this?"),
            {"role": "assistant", "content": "A picture."},
            image_turn(f"file://{TALL}", "And this one?"),
        ],
        max_tokens=3,
        temperature=0,
    )
    # 13 frames for the wide image, 9 for the tall one, 4 tokens each.
    assert r.model_extra["smolvlm"]["image_tokens"] == (13 + 9) * 4
    assert r.usage.prompt_tokens > (13 + 9) * 4
    assert r.usage.completion_tokens == 3


def test_a_follow_up_about_the_same_image_reuses_the_cache(client):
    first_turn = image_turn(data_url(IMAGE), QUESTION)
    first = client.chat.completions.create(
        model="tiny-smolvlm", messages=[first_turn], max_tokens=8, temperature=0
    )
    follow = client.chat.completions.create(
        model="tiny-smolvlm",
        messages=[
            first_turn,
            {"role": "assistant", "content": first.choices[0].message.content},
            {"role": "user", "content": "What colour is it?"},
        ],
        max_tokens=4,
        temperature=0,
    )
    cached = follow.usage.prompt_tokens_details.cached_tokens
    assert cached > 0
    assert cached >= first.usage.prompt_tokens - 1


def test_stop_strings_end_the_answer(client):
    want = generate_json("--prompt", QUESTION, "--max-new-tokens", "24")
    word = want["text"].split()[3]
    r = client.chat.completions.create(
        model="tiny-smolvlm",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=24,
        temperature=0,
        stop=[word],
    )
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == want["text"][: want["text"].index(word)]


def test_errors_are_openai_errors(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "model_not_found" and e.value.param == "model"

    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="", messages=[{"role": "user", "content": "hi"}], n=2)
    assert e.value.param == "n"

    bad = "data:image/png;base64," + base64.b64encode(b"not an image").decode()
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="", messages=[{"role": "user", "content": [
                {"type": "text", "text": "what?"},
                {"type": "image_url", "image_url": {"url": bad}},
            ]}], max_tokens=2,
        )
    assert e.value.code == "image_unknown_format"
    assert e.value.param == "messages[0].content[1]"
    assert e.value.type == "invalid_request_error"

    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="", messages=[image_turn("https://example.com/cat.png", "hi")], max_tokens=2
        )
    assert e.value.code == "remote_images_disabled"
    assert "remote image URLs are off" in e.value.message

    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="", messages=[{"role": "user", "content": "word " * 9000}], max_tokens=2, stream=True
        )
    assert e.value.code == "context_length_exceeded"
    assert e.value.status_code == 400


def test_a_wrong_key_is_401():
    s = Server("--api-key", "sesame")
    try:
        with pytest.raises(openai.AuthenticationError) as e:
            s.client("wrong").models.list()
        assert e.value.status_code == 401 and e.value.code == "invalid_api_key"
        assert [m.id for m in s.client("sesame").models.list()] == ["tiny-smolvlm"]
    finally:
        assert s.stop() == 0


def test_models_list_marks_the_loaded_model(client):
    models = client.models.list().data
    loaded = [m.id for m in models if m.model_extra.get("loaded")]
    assert loaded == ["tiny-smolvlm"]


def test_sixteen_clients_at_once_are_answered_or_told_429(server, client):
    def ask(i: int) -> str:
        try:
            if i % 2:
                r = client.chat.completions.create(
                    model="", messages=[{"role": "user", "content": f"hi {i}"}], max_tokens=8
                )
                return r.choices[0].finish_reason
            chunks = list(client.chat.completions.create(
                model="", messages=[{"role": "user", "content": f"hi {i}"}], max_tokens=8, stream=True
            ))
            return chunks[-1].choices[0].finish_reason
        except openai.RateLimitError as e:
            assert e.status_code == 429 and e.code == "queue_full"
            assert e.response.headers.get("retry-after") == "1"
            return "429"

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(ask, range(16)))
    assert all(r in ("stop", "length", "429") for r in results), results
    assert any(r != "429" for r in results)
    assert server.health()["queued"] == 0


def test_a_client_leaving_mid_stream_frees_the_worker(server, client):
    stream = client.chat.completions.create(
        model="",
        messages=[{"role": "user", "content": "Tell me a very long story."}],
        max_tokens=8000,
        temperature=0,
        stream=True,
    )
    it = iter(stream)
    for _ in range(3):
        next(it)
    assert server.health()["queued"] == 1
    stream.close()
    started = time.monotonic()
    r = client.chat.completions.create(
        model="", messages=[{"role": "user", "content": "hi"}], max_tokens=4
    )
    assert r.choices[0].finish_reason in ("stop", "length")
    assert time.monotonic() - started < PROMPTLY_S
