#!/usr/bin/env python3
"""A tiny Hugging Face hub for the E2E tests (stdlib only), modelled on
crates/smolvlm-hub/src/test_server.rs: every repository it is asked for is the tiny fixture model.

* GET /api/models/<org>/<name>/revision/<rev>[?blobs=true]: model info (`sha`, `siblings` with
  `size`, `blobId` and, for LFS files, `lfs.sha256`).
* GET /<org>/<name>/resolve/<rev>/<file>: small files directly (ETag = git blob id); LFS files
  (.safetensors, .gguf, .png, > 10 KiB) by a 302 to /cdn/<org>/<name>/<sha256>/<file>. Both send
  X-Repo-Commit and honour `Range: bytes=N-`.
* GET /health: "ok" (the harness waits for it).

Repositories whose name ends in -GGUF list llama.cpp pairs named like the upstream ones
(`<Model>-Q8_0.gguf`, `mmproj-<Model>-Q8_0.gguf`, also f16) backed by the fixture's GGUF files;
any other repository is the fixture's safetensors folder.

`--rate BYTES_PER_S` throttles bodies so that a UI can show progress (default 4 MB/s).
Prints `PORT <n>` on stdout once listening (port 0 picks a free one).
"""

import argparse
import hashlib
import http.server
import json
import os
import socketserver
import sys
import time

HF_FILES = [
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "processor_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.json",
    "model.safetensors",
]


def git_blob_id(data):
    h = hashlib.sha1()
    h.update(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def is_lfs(name, size):
    return size > 10 * 1024 or name.endswith((".safetensors", ".gguf", ".png", ".bin"))


class Repos:
    def __init__(self, fixture):
        self.fixture = fixture
        self.cache = {}
        self._blobs = {}

    def _read(self, src):
        if src not in self._blobs:
            with open(os.path.join(self.fixture, src), "rb") as f:
                self._blobs[src] = f.read()
        return self._blobs[src]

    def files(self, repo):
        """{name: bytes} for `repo`, and its commit."""
        if repo in self.cache:
            return self.cache[repo]
        name = repo.split("/")[-1]
        mapping = {}
        if name.endswith("-GGUF"):
            model = name[: -len("-GGUF")]
            for prec, src in (("Q8_0", "q8_0"), ("f16", "f16"), ("Q4_K_M", "q8_0")):
                mapping[f"{model}-{prec}.gguf"] = f"model-{src}.gguf"
                if prec != "Q4_K_M":  # upstream pairs Q4_K_M with the Q8_0 projector
                    mapping[f"mmproj-{model}-{prec}.gguf"] = f"mmproj-{src}.gguf"
        else:
            mapping = {f: f for f in HF_FILES}
        files = {dst: self._read(src) for dst, src in sorted(mapping.items())}
        h = hashlib.sha1()
        for dst, data in files.items():
            h.update(dst.encode())
            h.update(hashlib.sha256(data).hexdigest().encode())
        self.cache[repo] = (files, h.hexdigest())
        return self.cache[repo]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "smolvlm-e2e-hub"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("hub: " + (fmt % args) + "\n")

    def send(self, status, headers=(), body=b""):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        segs = [s for s in path.split("/") if s]
        repos = self.server.repos
        if segs == ["health"]:
            return self.send(200, [("Content-Type", "text/plain")], b"ok")
        # /api/models/<org>/<name>/revision/<rev>
        if len(segs) == 6 and segs[:2] == ["api", "models"] and segs[4] == "revision":
            repo = f"{segs[2]}/{segs[3]}"
            files, commit = repos.files(repo)
            if segs[5] not in ("main", commit):
                return self.send(404, [("X-Error-Code", "RevisionNotFound")], b"{}")
            siblings = []
            for name, data in files.items():
                s = {"rfilename": name, "size": len(data), "blobId": git_blob_id(data)}
                if is_lfs(name, len(data)):
                    s["lfs"] = {
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "size": len(data),
                        "pointerSize": 134,
                    }
                siblings.append(s)
            body = json.dumps({"id": repo, "modelId": repo, "sha": commit, "siblings": siblings})
            return self.send(200, [("Content-Type", "application/json")], body.encode())
        # /<org>/<name>/resolve/<rev>/<file...>
        if len(segs) >= 5 and segs[2] == "resolve":
            repo = f"{segs[0]}/{segs[1]}"
            files, commit = repos.files(repo)
            rev, name = segs[3], "/".join(segs[4:])
            if rev not in ("main", commit):
                return self.send(404, [("X-Error-Code", "RevisionNotFound")])
            data = files.get(name)
            if data is None:
                return self.send(404, [("X-Error-Code", "EntryNotFound")])
            if is_lfs(name, len(data)):
                sha = hashlib.sha256(data).hexdigest()
                host = self.headers.get("Host") or "127.0.0.1:%d" % self.server.server_port
                return self.send(
                    302,
                    [
                        ("Location", f"http://{host}/cdn/{repo}/{sha}/{name}"),
                        ("X-Repo-Commit", commit),
                        ("X-Linked-Etag", f'"{sha}"'),
                        ("X-Linked-Size", str(len(data))),
                    ],
                )
            return self.serve(data, [("X-Repo-Commit", commit), ("ETag", f'"{git_blob_id(data)}"')])
        # /cdn/<org>/<name>/<sha256>/<file...>
        if len(segs) >= 5 and segs[0] == "cdn":
            repo = f"{segs[1]}/{segs[2]}"
            files, _ = repos.files(repo)
            data = files.get("/".join(segs[4:]))
            if data is None or hashlib.sha256(data).hexdigest() != segs[3]:
                return self.send(404)
            return self.serve(data, [("ETag", f'"{segs[3]}"')])
        return self.send(404)

    def serve(self, data, headers):
        headers = list(headers) + [("Accept-Ranges", "bytes")]
        start = 0
        status = 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            try:
                start = int(rng[len("bytes="):].split("-", 1)[0])
            except ValueError:
                start = 0
            if start >= len(data) and len(data) > 0:
                return self.send(416, headers + [("Content-Range", f"bytes */{len(data)}")])
            status = 206
            headers.append(("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}"))
        body = data[start:]
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        rate = self.server.rate
        chunk = 64 * 1024
        t0 = time.monotonic()
        sent = 0
        try:
            for i in range(0, len(body), chunk):
                self.wfile.write(body[i : i + chunk])
                sent += len(body[i : i + chunk])
                if rate > 0:
                    ahead = sent / rate - (time.monotonic() - t0)
                    if ahead > 0:
                        time.sleep(ahead)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--fixture", default=os.path.join(here, "..", "fixtures", "tiny-smolvlm"))
    p.add_argument("--rate", type=float, default=4e6, help="bytes per second per transfer; 0 = unthrottled")
    p.add_argument("--verbose", action="store_true")
    a = p.parse_args()
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.repos = Repos(os.path.abspath(a.fixture))
    srv.rate = a.rate
    srv.verbose = a.verbose
    print(f"PORT {srv.server_port}", flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
