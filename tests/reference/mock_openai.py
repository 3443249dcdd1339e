#!/usr/bin/env python3
"""mock_openai.py - a small OpenAI-compatible chat-completions server for the
miso-gen tests (Python standard library only).

    mock_openai.py --port-file F [--key K] [--log L] [--lifetime SEC]

Listens on 127.0.0.1 on a free port (written to F once listening) and
answers POST /v1/chat/completions (and /chat/completions).  The answer is
"answer: " + the last user message.  Tags in the last user message make it
misbehave, counted per distinct message so retries see the next behaviour:

    #slow=S      sleep S seconds before answering (every attempt)
    #429=N       the first N attempts get 429 with Retry-After (#after=R, default 1)
    #500=N       the first N attempts get 500
    #drop=N      the first N attempts: the connection is closed with no reply
    #badjson     every attempt gets 200 with a truncated JSON body
    #nocontent   every attempt gets 200 with JSON lacking choices
    #err200=N    the first N attempts get 200 with an "error" object
    #nochoice=N  the first N attempts get 200 with an empty "choices" list
    #length      the answer has finish_reason "length"
    #rawbytes    the answer content carries the raw bytes ff fe (not UTF-8)
    #nul         the answer content carries \u0000

With --key, a request without "Authorization: Bearer K" gets 401.  Each
request is logged to L as a JSON line (time, prompt, attempt, status, model,
temperature, top_p, max_tokens, seed); the Authorization header is never
logged.  The server stops by itself after --lifetime seconds (default 120).
"""
import argparse
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ATTEMPTS = {}
LOCK = threading.Lock()


def tag(text, name, default=None):
    m = re.search(r"#" + name + r"(?:=([0-9.]+))?", text)
    if not m:
        return None
    return float(m.group(1)) if m.group(1) else default


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, status, body, headers=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout, kill)
            self.close_connection = True

    def log_req(self, req, prompt, attempt, status):
        if not self.server.log:
            return
        rec = {"time": time.time(), "prompt": prompt, "attempt": attempt, "status": status}
        for k in ("model", "temperature", "top_p", "max_tokens", "seed"):
            if k in req:
                rec[k] = req[k]
        rec["n_messages"] = len(req.get("messages", []))
        with LOCK:
            with open(self.server.log, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def do_POST(self):
        if not self.path.rstrip("/").endswith("/v1/chat/completions"):
            self.reply(404, json.dumps({"error": {"message": "no route " + self.path}}))
            return
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        try:
            req = json.loads(raw)
        except ValueError:
            self.reply(400, json.dumps({"error": {"message": "bad request body"}}))
            return
        msgs = req.get("messages", [])
        users = [m.get("content", "") for m in msgs if m.get("role") == "user"]
        prompt = users[-1] if users else ""
        with LOCK:
            ATTEMPTS[prompt] = ATTEMPTS.get(prompt, 0) + 1
            attempt = ATTEMPTS[prompt]
        if self.server.key is not None and self.headers.get("Authorization") != "Bearer " + self.server.key:
            self.log_req(req, prompt, attempt, 401)
            self.reply(401, json.dumps({"error": {"message": "invalid api key"}}))
            return
        slow = tag(prompt, "slow", 1)
        if slow:
            time.sleep(slow)
        n429, n500, ndrop = tag(prompt, "429", 1), tag(prompt, "500", 1), tag(prompt, "drop", 1)
        if n429 and attempt <= n429:
            after = tag(prompt, "after", 1)
            self.log_req(req, prompt, attempt, 429)
            self.reply(429, json.dumps({"error": {"message": "rate limited"}}),
                       [("Retry-After", "%g" % after)])
            return
        if n500 and attempt <= n500:
            self.log_req(req, prompt, attempt, 500)
            self.reply(500, json.dumps({"error": {"message": "internal error"}}))
            return
        if ndrop and attempt <= ndrop:
            self.log_req(req, prompt, attempt, 0)
            self.close_connection = True
            return
        if "#badjson" in prompt:
            self.log_req(req, prompt, attempt, 200)
            self.reply(200, '{"id": "x", "choices": [{"message": {"content": "trunc')
            return
        if "#nocontent" in prompt:
            self.log_req(req, prompt, attempt, 200)
            self.reply(200, json.dumps({"id": "x", "object": "chat.completion"}))
            return
        n_err, n_noch = tag(prompt, "err200", 1), tag(prompt, "nochoice", 1)
        if n_err and attempt <= n_err:
            self.log_req(req, prompt, attempt, 200)
            self.reply(200, json.dumps({"error": {"message": "upstream overloaded", "code": 502}}))
            return
        if n_noch and attempt <= n_noch:
            self.log_req(req, prompt, attempt, 200)
            self.reply(200, json.dumps({"id": "x", "object": "chat.completion", "choices": []}))
            return
        self.log_req(req, prompt, attempt, 200)
        body = {
            "id": "chatcmpl-%d" % attempt,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.get("model", ""),
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "answer: " + prompt}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }
        if "#length" in prompt:
            body["choices"][0]["finish_reason"] = "length"
        if "#nul" in prompt:
            body["choices"][0]["message"]["content"] += "\x00end"
        text = json.dumps(body, ensure_ascii=False)
        if "#rawbytes" in prompt:  # invalid UTF-8 inside the JSON string
            data = text.encode().replace(b"#rawbytes", b"#raw\xff\xfebytes")
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.reply(200, text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--key")
    ap.add_argument("--log")
    ap.add_argument("--lifetime", type=float, default=120)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.key, srv.log = a.key, a.log
    threading.Timer(a.lifetime, srv.shutdown).start()
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    import os
    os.replace(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
