#!/usr/bin/env python3
"""Unit tests of score.py's scoring and report checks (no model, no binary; well under a second).

    python3 scripts/quality/test_score.py
"""

import contextlib
import io
import json
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import score  # noqa: E402


class Normalize(unittest.TestCase):
    def test_lower_case_and_whitespace(self):
        self.assertEqual(score.normalize("  The  TOTAL\n is "), "the total is")
        self.assertEqual(score.normalize(""), "")
        self.assertEqual(score.normalize(" \t\n"), "")

    def test_punctuation_is_kept(self):
        # DocVQA's ANLS does not strip punctuation: "Maria." is not "Maria".
        self.assertEqual(score.normalize("Maria."), "maria.")


class Levenshtein(unittest.TestCase):
    def test_distances(self):
        self.assertEqual(score.levenshtein("", ""), 0)
        self.assertEqual(score.levenshtein("abc", ""), 3)
        self.assertEqual(score.levenshtein("", "abc"), 3)
        self.assertEqual(score.levenshtein("kitten", "sitting"), 3)
        self.assertEqual(score.levenshtein("flaw", "lawn"), 2)
        self.assertEqual(score.levenshtein("abc", "abc"), 0)


class Anls(unittest.TestCase):
    def test_exact_scores_one_whatever_the_case_and_spaces(self):
        self.assertEqual(score.anls("$49.47", ["$49.47"]), 1.0)
        self.assertEqual(score.anls("  green LEAF market ", ["Green Leaf Market"]), 1.0)

    def test_empty(self):
        # Both empty: identical. One empty: as far apart as can be.
        self.assertEqual(score.anls("", [""]), 1.0)
        self.assertEqual(score.anls("   ", [""]), 1.0)
        self.assertEqual(score.anls("", ["Maria"]), 0.0)
        self.assertEqual(score.anls("Maria", [""]), 0.0)
        # No accepted answers at all: nothing to match.
        self.assertEqual(score.anls("Maria", []), 0.0)

    def test_partial_similarity_below_the_threshold_distance(self):
        # One edit in 6 characters: 1 - 1/6.
        self.assertAlmostEqual(score.anls("Maria.", ["Maria"]), 1 - 1 / 6)
        self.assertAlmostEqual(score.anls("5,595", ["5,59"]), 1 - 1 / 5)

    def test_threshold(self):
        # Distance exactly 0.5 scores 0 (DocVQA: 1 - NL only when NL < 0.5) ...
        self.assertEqual(score.nls("abcd", "abxy"), 0.0)
        self.assertEqual(score.anls("ab", ["abcd"]), 0.0)
        # ... just under it keeps its similarity ...
        self.assertAlmostEqual(score.nls("abcdefg", "abcdxyz"), 1 - 3 / 7)
        # ... and over it is 0, however close to the line.
        self.assertEqual(score.nls("abc", "xyc"), 0.0)
        self.assertEqual(score.anls("completely different", ["Q3 Product Roadmap"]), 0.0)

    def test_custom_threshold(self):
        self.assertAlmostEqual(score.nls("abcd", "abxy", threshold=0.6), 0.5)
        self.assertEqual(score.nls("Maria.", "Maria", threshold=0.1), 0.0)

    def test_best_over_accepted_answers(self):
        self.assertEqual(score.anls("1175", ["1,175", "1175"]), 1.0)
        self.assertAlmostEqual(score.anls("1,17", ["xyz", "1,175"]), 0.8)

    def test_unicode(self):
        self.assertEqual(score.anls("CAFÉ", ["café"]), 1.0)


class ExactAndContains(unittest.TestCase):
    def test_exact_match(self):
        self.assertEqual(score.exact_match(" EAST ", ["East"]), 1.0)
        self.assertEqual(score.exact_match("East.", ["East"]), 0.0)
        self.assertEqual(score.exact_match("", [""]), 1.0)
        self.assertEqual(score.exact_match("", ["East"]), 0.0)

    def test_contains(self):
        self.assertEqual(score.contains("The total is $49.47.", ["$49.47"]), 1.0)
        self.assertEqual(score.contains("49", ["$49.47"]), 0.0)
        # An empty accepted answer is in everything: it never counts.
        self.assertEqual(score.contains("anything", [""]), 0.0)

    def test_score_dict(self):
        self.assertEqual(score.score("Maria", ["Maria"]),
                         {"anls": 1.0, "exact_match": 1.0, "contains": 1.0})


def result(qid, kind, prediction, answers, error=None, wall=0.5):
    r = {"id": qid, "kind": kind, "image": f"{kind}.png", "question": "?", "answers": answers,
         "prediction": None if error else prediction, "error": error, "wall_s": wall,
         "answer_s": None if error else wall / 2}
    r.update(score.score(prediction, answers) if not error else
             {"anls": 0.0, "exact_match": 0.0, "contains": 0.0})
    return r


class Summary(unittest.TestCase):
    def test_per_kind_and_overall_means(self):
        rs = [result("a1", "receipt", "Maria", ["Maria"]),
              result("a2", "receipt", "nope", ["Maria"]),
              result("b1", "slide", "", ["7"], error={"code": "x", "message": "y"}, wall=1.5)]
        s = score.summarize(rs)
        self.assertEqual(s["by_kind"]["receipt"]["questions"], 2)
        self.assertEqual(s["by_kind"]["receipt"]["anls"], 0.5)
        self.assertEqual(s["by_kind"]["slide"]["errors"], 1)
        self.assertEqual(s["overall"]["questions"], 3)
        self.assertAlmostEqual(s["overall"]["exact_match"], round(1 / 3, 4))
        self.assertAlmostEqual(s["overall"]["mean_wall_s"], 0.833)
        # Errors have no engine time: the mean is over the answered ones.
        self.assertAlmostEqual(s["overall"]["mean_answer_s"], 0.25)

    def test_a_result_from_an_answer(self):
        q = {"id": "a1", "kind": "receipt", "image": "receipt.png", "question": "?",
             "answers": ["Maria"]}
        t = {"load_s": 1.0, "vision_s": 0.25, "prefill_s": 0.5, "decode_s": 0.25,
             "decode_tokens_per_s": 4.0}
        r = score.result_of(q, {"text": "Maria", "tokens": 2, "prompt_tokens": 90,
                                "image_tokens": 64, "stop_reason": "eos", "timings": t}, 2.0)
        self.assertEqual((r["prediction"], r["anls"], r["error"]), ("Maria", 1.0, None))
        self.assertEqual((r["wall_s"], r["answer_s"], r["image_tokens"]), (2.0, 1.0, 64))
        e = score.result_of(q, {"error": {"code": "image_corrupt", "message": "bad"}}, 0.5)
        self.assertEqual((e["prediction"], e["anls"], e["answer_s"]), (None, 0.0, None))
        self.assertEqual(e["error"]["code"], "image_corrupt")

    def test_empty(self):
        self.assertEqual(score.summarize([])["overall"]["questions"], 0)


class CheckReport(unittest.TestCase):
    def setUp(self):
        self.questions = [{"id": "a1"}, {"id": "b1"}]
        rs = [result("a1", "receipt", "x", ["Maria"]), result("b1", "slide", "7", ["7"])]
        self.report = {"format": score.REPORT_FORMAT, "model": "m", "resolution": "fast",
                       "total_wall_s": 1.0, "summary": score.summarize(rs), "results": rs}

    def test_complete(self):
        self.assertEqual(score.check_report(self.report, self.questions), [])

    def test_missing_result_error_and_field(self):
        self.report["results"][1]["error"] = {"code": "image_corrupt", "message": "bad"}
        del self.report["results"][0]["anls"]
        del self.report["model"]
        problems = score.check_report(self.report, self.questions + [{"id": "c1"}])
        text = "\n".join(problems)
        self.assertIn("no `model`", text)
        self.assertIn("a1: no anls", text)
        self.assertIn("b1: [image_corrupt] bad", text)
        self.assertIn("c1: no result", text)
        self.assertIn("counts 2 questions, not 3", text)


class Questions(unittest.TestCase):
    def test_the_committed_set_is_well_formed(self):
        qs = score.load_questions(score.DEFAULT_QUESTIONS)
        self.assertGreaterEqual(len(qs), 20)
        for q in qs:
            self.assertTrue(Path(q["image_path"]).is_file(), q["image_path"])
        per_image = {}
        for q in qs:
            per_image[q["image"]] = per_image.get(q["image"], 0) + 1
        self.assertTrue(all(3 <= n <= 5 for n in per_image.values()), per_image)

    def test_bad_lines_are_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "q.jsonl"
            line = {"id": "a", "image": "a.png", "kind": "k", "question": "?", "answers": ["x"]}
            path.write_text(json.dumps(line) + "\n" + json.dumps(line) + "\n")
            with self.assertRaisesRegex(ValueError, "repeated"):
                score.load_questions(path)
            path.write_text(json.dumps({**line, "answers": []}) + "\n")
            with self.assertRaisesRegex(ValueError, "non-empty"):
                score.load_questions(path)
            path.write_text(json.dumps({"id": "a"}) + "\n")
            with self.assertRaisesRegex(ValueError, "no image"):
                score.load_questions(path)
            path.write_text(json.dumps(line) + "\n")
            self.assertEqual(score.load_questions(path, {"other"}), [])


# A stand-in for `smolvlm serve` that reads perfectly: it answers each question with its first
# accepted answer (and fails on an image named broken.png), so the server's start, the requests
# and the matching of answers to questions are tested without a model.
FAKE_SERVE = r'''
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
argv = sys.argv[1:]
assert argv[0] == "serve", argv
opts = dict(zip(argv[1::2], argv[2::2]))
assert opts["--resolution"] == "fast" and opts["--port"] == "0", opts
answers = {json.loads(l)["question"]: json.loads(l)["answers"][0] for l in open(QUESTIONS)}

class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        assert req["temperature"] == 0, req
        image, text = req["messages"][0]["content"]
        if image["image_url"]["url"].endswith("broken.png"):
            status, body = 400, {"error": {"code": "image_corrupt", "message": "corrupt",
                                           "type": "invalid_request_error", "param": None}}
        else:
            t = {"vision_s": 0.1, "prefill_s": 0.1, "decode_s": 0.1, "first_token_s": 0.2}
            status, body = 200, {
                "choices": [{"message": {"content": answers[text["text"].split("\n")[0]]},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 80, "completion_tokens": 3},
                "smolvlm": {"image_tokens": 64, "timings": t}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
'''


class Run(unittest.TestCase):
    def run_fake(self, questions_file, tmp):
        fake = Path(tmp) / "smolvlm"
        fake.write_text(f"#!{sys.executable}\nQUESTIONS = {str(questions_file)!r}\n" + FAKE_SERVE)
        fake.chmod(0o755)
        report = Path(tmp) / "report.json"
        argv = ["--model", tmp, "--bin", str(fake), "--resolution", "fast", "--questions",
                str(questions_file), "--out", str(report), "--expect-complete"]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc = score.main(argv)
        return rc, json.loads(report.read_text())

    def test_a_perfect_reader_scores_one(self):
        with tempfile.TemporaryDirectory() as tmp:
            rc, report = self.run_fake(score.DEFAULT_QUESTIONS, tmp)
        self.assertEqual(rc, 0)
        overall = report["summary"]["overall"]
        self.assertEqual((overall["anls"], overall["exact_match"], overall["errors"]),
                         (1.0, 1.0, 0))
        self.assertEqual(overall["questions"], len(score.load_questions(score.DEFAULT_QUESTIONS)))
        self.assertEqual(report["resolution"], "fast")
        self.assertAlmostEqual(report["results"][0]["answer_s"], 0.3)

    def test_an_errored_question_fails_expect_complete(self):
        with tempfile.TemporaryDirectory() as tmp:
            qs = Path(tmp) / "q.jsonl"
            (Path(tmp) / "ok.png").write_bytes(b"")
            (Path(tmp) / "broken.png").write_bytes(b"")
            lines = [{"id": "a", "image": "ok.png", "kind": "k", "question": "Q1?",
                      "answers": ["one"]},
                     {"id": "b", "image": "broken.png", "kind": "k", "question": "Q2?",
                      "answers": ["two"]}]
            qs.write_text("".join(json.dumps(x) + "\n" for x in lines))
            rc, report = self.run_fake(qs, tmp)
        self.assertEqual(rc, 1)
        by_id = {r["id"]: r for r in report["results"]}
        self.assertEqual(by_id["a"]["anls"], 1.0)
        self.assertEqual(by_id["b"]["error"]["code"], "image_corrupt")
        self.assertEqual(report["summary"]["overall"]["errors"], 1)


if __name__ == "__main__":
    unittest.main()
