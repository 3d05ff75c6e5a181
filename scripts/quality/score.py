#!/usr/bin/env python3
"""Scores a model's reading on documents with known text (docs/quality.md).

Asks every question of tests/fixtures/quality/questions.jsonl of its page through the real CLI
(one `smolvlm serve` process, the model loaded once; greedy decoding) and scores each answer against the accepted strings with
ANLS (DocVQA's average normalized Levenshtein similarity, threshold 0.5), exact match and a
lenient "contains"; prints a table per document kind and writes a JSON report.

    python3 scripts/quality/score.py --model ~/models/SmolVLM-256M-Instruct \\
        --bin target/release/smolvlm --resolution document --out report.json

Python's standard library only. Exit status: 0 when every question ran (whatever the scores),
1 when a run failed or (with --expect-complete) the report is incomplete, 2 on bad arguments.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_QUESTIONS = ROOT / "tests" / "fixtures" / "quality" / "questions.jsonl"
REPORT_FORMAT = "smolvlm-quality-report/1"
ANLS_THRESHOLD = 0.5
# The instruction DocVQA evaluations of small VLMs append (lmms-eval's docvqa task).
DEFAULT_PROMPT = "{question}\nAnswer the question using a single word or phrase."
QUESTION_FIELDS = ("id", "image", "kind", "question", "answers")
RESULT_FIELDS = ("id", "kind", "image", "question", "answers", "prediction", "anls",
                 "exact_match", "contains", "error", "wall_s", "answer_s")
METRICS = ("anls", "exact_match", "contains")


# --- Scoring -----------------------------------------------------------------------------------

def normalize(s):
    """DocVQA's normalization: lower case, outer whitespace stripped (inner runs collapsed)."""
    return " ".join(str(s).strip().lower().split())


def levenshtein(a, b):
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def nls(prediction, answer, threshold=ANLS_THRESHOLD):
    """1 - normalized edit distance, or 0 when that distance is `threshold` or more."""
    p, a = normalize(prediction), normalize(answer)
    if not p and not a:
        return 1.0
    dist = levenshtein(p, a) / max(len(p), len(a))
    return 1.0 - dist if dist < threshold else 0.0


def anls(prediction, answers, threshold=ANLS_THRESHOLD):
    """The best similarity over the accepted answers (0 with none)."""
    return max((nls(prediction, a, threshold) for a in answers), default=0.0)


def exact_match(prediction, answers):
    p = normalize(prediction)
    return 1.0 if any(p == normalize(a) for a in answers) else 0.0


def contains(prediction, answers):
    """Lenient: an accepted answer appears inside the prediction ("The total is $49.47.")."""
    p = normalize(prediction)
    return 1.0 if any(normalize(a) and normalize(a) in p for a in answers) else 0.0


def score(prediction, answers):
    return {"anls": round(anls(prediction, answers), 4),
            "exact_match": exact_match(prediction, answers),
            "contains": contains(prediction, answers)}


def summarize(results):
    """Per kind and overall: count, mean of each metric (errors score 0), errors, mean wall."""
    def agg(rs):
        n = len(rs)
        out = {"questions": n, "errors": sum(1 for r in rs if r.get("error"))}
        for m in METRICS:
            out[m] = round(sum(r.get(m) or 0.0 for r in rs) / n, 4) if n else 0.0
        for key in ("wall_s", "answer_s"):
            vals = [r[key] for r in rs if r.get(key) is not None]
            out[f"mean_{key}"] = round(sum(vals) / len(vals), 3) if vals else None
        return out

    kinds = {}
    for r in results:
        kinds.setdefault(r["kind"], []).append(r)
    return {"overall": agg(results), "by_kind": {k: agg(v) for k, v in kinds.items()}}


def check_report(report, questions):
    """What makes a report incomplete: a question without a result, an error, a missing field."""
    problems = []
    for key in ("format", "model", "resolution", "summary", "results", "total_wall_s"):
        if key not in report:
            problems.append(f"the report has no `{key}`")
    results = {r.get("id"): r for r in report.get("results", [])}
    for q in questions:
        r = results.get(q["id"])
        if r is None:
            problems.append(f"{q['id']}: no result")
            continue
        missing = [f for f in RESULT_FIELDS if f not in r]
        if missing:
            problems.append(f"{q['id']}: no {', '.join(missing)}")
        if r.get("error"):
            problems.append(f"{q['id']}: [{r['error'].get('code')}] {r['error'].get('message')}")
        elif not isinstance(r.get("prediction"), str):
            problems.append(f"{q['id']}: the prediction is not a string")
        for m in METRICS:
            v = r.get(m)
            if not r.get("error") and not (isinstance(v, (int, float)) and 0.0 <= v <= 1.0):
                problems.append(f"{q['id']}: {m} is {v!r}, not a score in [0, 1]")
    overall = report.get("summary", {}).get("overall", {})
    if overall.get("questions") != len(questions):
        problems.append(f"the summary counts {overall.get('questions')} questions, "
                        f"not {len(questions)}")
    return problems


# --- Questions ---------------------------------------------------------------------------------

def load_questions(path, kinds=None):
    questions, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            q = json.loads(line)
            missing = [k for k in QUESTION_FIELDS if k not in q]
            if missing:
                raise ValueError(f"{path} line {n}: no {', '.join(missing)}")
            if not q["answers"] or not all(isinstance(a, str) for a in q["answers"]):
                raise ValueError(f"{path} line {n}: answers must be a non-empty list of strings")
            if q["id"] in seen:
                raise ValueError(f"{path} line {n}: the id {q['id']} is repeated")
            seen.add(q["id"])
            image = Path(q["image"])
            q["image_path"] = str(image if image.is_absolute() else (Path(path).parent / image)
                                  .resolve())
            if not kinds or q["kind"] in kinds:
                questions.append(q)
    return questions


# --- Running the model -------------------------------------------------------------------------

def default_bin():
    for b in ("target/release/smolvlm", "target/debug/smolvlm"):
        if (ROOT / b).is_file():
            return str(ROOT / b)
    return shutil.which("smolvlm") or str(ROOT / "target/release/smolvlm")


class Server:
    """`smolvlm serve --port 0` on the model (loaded once for every question), stopped on exit."""

    def __init__(self, args):
        cmd = [args.bin, "serve", "--model", args.model, "--port", "0"]
        if args.longest_edge:
            cmd += ["--longest-edge", str(args.longest_edge)]
        else:
            cmd += ["--resolution", args.resolution]
        for flag in ("mmproj", "quant", "device", "threads"):
            value = getattr(args, flag)
            if value is not None:
                cmd += [f"--{flag}", str(value)]
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            self.proc.wait(30)
            raise RuntimeError(f"`smolvlm serve` did not start: {self.tail()}")
        self.base = line.split("listening on ", 1)[1].strip()

    def tail(self):
        self.stderr.seek(0)
        return " ".join(self.stderr.read().strip().splitlines()[-3:]) or "no output"

    def ask(self, image, prompt, args):
        """One greedy answer about `image`: the completion's JSON, or `{"error": {...}}`."""
        body = {"messages": [{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": str(Path(image).resolve())}},
                    {"type": "text", "text": prompt}]}],
                "max_tokens": args.max_new_tokens, "temperature": 0, "seed": 0}
        req = urllib.request.Request(self.base + "/v1/chat/completions",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=args.timeout) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            try:
                err = json.load(e)["error"]
            except (ValueError, KeyError, TypeError):
                err = {"code": f"http_{e.code}", "message": str(e)}
            return {"error": {"code": err.get("code"), "message": err.get("message")}}
        except (urllib.error.URLError, OSError) as e:
            return {"error": {"code": "server_gone", "message": f"{e} ({self.tail()})"}}

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.stderr.close()


def record_of(answer):
    """A chat completion as the fields a result keeps."""
    if answer.get("error"):
        return {"error": answer["error"]}
    extra = answer.get("smolvlm") or {}
    usage = answer.get("usage") or {}
    return {"text": answer["choices"][0]["message"].get("content") or "",
            "tokens": usage.get("completion_tokens"), "prompt_tokens": usage.get("prompt_tokens"),
            "image_tokens": extra.get("image_tokens"),
            "stop_reason": answer["choices"][0].get("finish_reason"),
            "timings": extra.get("timings")}


def result_of(q, rec, wall):
    r = {k: q[k] for k in ("id", "kind", "image", "question", "answers")}
    if rec.get("error"):
        r.update(prediction=None, anls=0.0, exact_match=0.0, contains=0.0, error=rec["error"])
    else:
        r.update(prediction=rec.get("text", ""), error=None, **score(rec.get("text", ""),
                                                                      q["answers"]))
    r["wall_s"] = round(wall, 3)
    for k in ("tokens", "prompt_tokens", "image_tokens", "stop_reason", "timings"):
        r[k] = rec.get(k)
    t = rec.get("timings") or {}
    # The engine's time on this question (vision, prefill, decode), without HTTP and queueing.
    parts = [t.get(k) for k in ("vision_s", "prefill_s", "decode_s")]
    timed = all(isinstance(v, (int, float)) for v in parts)
    r["answer_s"] = round(sum(parts), 3) if timed else None
    return r


def binary_version(binary):
    try:
        return subprocess.run([binary, "--version"], capture_output=True, text=True,
                              timeout=30).stdout.strip() or None
    except OSError:
        return None


def run(args, questions):
    results, fatal = {}, None
    start = time.monotonic()
    try:
        server = Server(args)
    except (OSError, RuntimeError) as e:
        server, fatal = None, f"{e}; stopping"
    try:
        for done, q in enumerate(questions if server else [], 1):
            asked = time.monotonic()
            rec = record_of(server.ask(q["image_path"], args.prompt.replace("{question}",
                                                                            q["question"]), args))
            r = result_of(q, rec, time.monotonic() - asked)
            results[q["id"]] = r
            shown = r["error"]["code"] if r["error"] else repr(r["prediction"][:60])
            print(f"[{done}/{len(questions)}] {q['id']}: {shown}  ANLS {r['anls']:.2f}  "
                  f"{r['wall_s']:.2f}s", file=sys.stderr)
            if r["error"] and r["error"]["code"] == "server_gone":
                fatal = f"`smolvlm serve` went away: {r['error']['message']}; stopping"
                break
    finally:
        if server:
            server.close()
    for q in questions:
        if q["id"] not in results:
            results[q["id"]] = result_of(q, {"error": {"code": "not_run", "message": fatal}}, 0.0)
    ordered = [results[q["id"]] for q in questions]
    return ordered, time.monotonic() - start, fatal


def build_report(args, questions, results, total_wall, fatal):
    model = Path(args.model)
    return {
        "format": REPORT_FORMAT,
        "model": model.name if model.exists() else args.model,
        "model_path": str(model.resolve()) if model.exists() else args.model,
        "mmproj": args.mmproj,
        "quant": args.quant,
        "binary": args.bin,
        "binary_version": binary_version(args.bin),
        "resolution": f"longest_edge={args.longest_edge}" if args.longest_edge else args.resolution,
        "max_new_tokens": args.max_new_tokens,
        "decoding": "greedy (temperature 0)",
        "prompt_template": args.prompt,
        "questions_file": str(Path(args.questions).resolve()),
        "anls_threshold": ANLS_THRESHOLD,
        "host": {"platform": platform.platform(), "machine": platform.machine(),
                 "cpus": os.cpu_count()},
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(args.started)),
        "total_wall_s": round(total_wall, 2),
        "fatal": fatal,
        "summary": summarize(results),
        "results": results,
    }


def print_table(report, out=None):
    out = out or sys.stdout
    s = report["summary"]
    print(f"model {report['model']}  resolution {report['resolution']}  "
          f"max_new_tokens {report['max_new_tokens']}  {report['total_wall_s']:.1f}s", file=out)
    head = (f"{'kind':<10} {'n':>3} {'ANLS':>6} {'EM':>6} {'contains':>8} {'errors':>6} "
            f"{'wall s':>7} {'answer s':>8}")
    print(head, file=out)
    print("-" * len(head), file=out)
    rows = list(s["by_kind"].items()) + [("overall", s["overall"])]
    for i, (kind, a) in enumerate(rows):
        if i == len(rows) - 1:
            print("-" * len(head), file=out)
        wall, ans = (f"{a[k]:.2f}" if a[k] is not None else "-"
                     for k in ("mean_wall_s", "mean_answer_s"))
        print(f"{kind:<10} {a['questions']:>3} {a['anls']:>6.3f} {a['exact_match']:>6.3f} "
              f"{a['contains']:>8.3f} {a['errors']:>6} {wall:>7} {ans:>8}", file=out)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True,
                    help="a model folder, a GGUF file (with --mmproj), a catalog id or org/repo")
    ap.add_argument("--bin", default=None, help="the smolvlm binary (default: target/release, "
                    "else target/debug, else PATH)")
    ap.add_argument("--resolution", default="document", choices=["document", "standard", "fast"])
    ap.add_argument("--longest-edge", type=int, help="pixels instead of a --resolution preset")
    ap.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    ap.add_argument("--kind", action="append", help="only questions of this kind (repeatable)")
    ap.add_argument("--out", help="write the JSON report here")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--prompt", default=DEFAULT_PROMPT,
                    help="the prompt, with {question} (default: %(default)r)")
    ap.add_argument("--mmproj", help="the vision projector of a GGUF --model")
    ap.add_argument("--quant", help="quantize a safetensors model as it loads (e.g. q8_0)")
    ap.add_argument("--device", help="auto, cpu, cuda or metal")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--timeout", type=float, default=600.0,
                    help="seconds one answer may take")
    ap.add_argument("--expect-complete", action="store_true",
                    help="exit 1 unless every question got an answer and the report is "
                         "well-formed (the CI smoke test)")
    args = ap.parse_args(argv)
    if "{question}" not in args.prompt:
        ap.error("--prompt must contain {question}")
    args.bin = args.bin or default_bin()
    args.started = time.time()
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        questions = load_questions(args.questions, set(args.kind or []))
    except (OSError, ValueError) as e:
        print(f"score.py: {e}", file=sys.stderr)
        return 2
    if not questions:
        print("score.py: no questions to ask", file=sys.stderr)
        return 2
    results, total_wall, fatal = run(args, questions)
    report = build_report(args, questions, results, total_wall, fatal)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                                  encoding="utf-8")
    print_table(report)
    if fatal:
        print(f"score.py: {fatal}", file=sys.stderr)
        return 1
    if args.expect_complete:
        # Checked as it was written: the JSON read back, not the objects in memory.
        problems = check_report(json.loads(json.dumps(report)), questions)
        if problems:
            print("score.py: the report is incomplete:\n  " + "\n  ".join(problems),
                  file=sys.stderr)
            return 1
        print(f"complete: {len(questions)} questions answered, report well-formed",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
