#!/usr/bin/env python3
"""Local stand-in for the Lambda service's asynchronous invoke and EventBridge schedule.

`cargo lambda watch` answers invokes synchronously. The API nudges the worker with an
asynchronous (`Event`) invoke, which on AWS returns 202 at once; this relay accepts the
Lambda Invoke API on 127.0.0.1, answers `Event` invokes with 202 and runs them in the
background against `cargo lambda watch`, and invokes the worker on a schedule like the
template's EventBridge rule. Per function, invocations are coalesced (at most one queued
behind the one running), as a reserved concurrency of 1 with a nudge would behave.
"""

import argparse
import http.server
import json
import re
import sys
import threading
import time
import urllib.request

INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


class Function:
    def __init__(self, name, target, timeout):
        self.name = name
        self.target = target
        self.timeout = timeout
        self.wanted = threading.Event()
        self.payload = b"{}"
        threading.Thread(target=self.loop, daemon=True).start()

    def request(self, payload):
        self.payload = payload
        self.wanted.set()

    def invoke(self, payload):
        url = f"{self.target}/2015-03-31/functions/{self.name}/invocations"
        req = urllib.request.Request(url, data=payload, method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            return resp.status, resp.read()

    def loop(self):
        while True:
            self.wanted.wait()
            self.wanted.clear()
            try:
                status, body = self.invoke(self.payload)
                log(f"{self.name}: {status} {body[:300].decode(errors='replace')}")
            except Exception as e:  # the function failed or timed out; the next tick retries
                log(f"{self.name}: invoke failed: {e}")
                time.sleep(1)


def log(msg):
    print(f"lambda-relay {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--target", required=True, help="cargo lambda watch base URL")
    ap.add_argument("--schedule-function", default="naiq-worker")
    ap.add_argument("--schedule-seconds", type=float, default=60.0)
    ap.add_argument("--schedule-event", required=True)
    ap.add_argument("--timeout", type=float, default=960.0)
    args = ap.parse_args()

    functions = {}
    lock = threading.Lock()

    def function(name):
        with lock:
            if name not in functions:
                functions[name] = Function(name, args.target.rstrip("/"), args.timeout)
            return functions[name]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            m = INVOKE.match(self.path.split("?")[0])
            if not m:
                self.send_error(404)
                return
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"
            kind = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            fn = function(m.group(1))
            if kind == "Event":
                fn.request(body)
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif kind == "DryRun":
                self.send_response(204)
                self.end_headers()
            else:
                try:
                    status, out = fn.invoke(body)
                except Exception as e:
                    status, out = 502, json.dumps({"message": str(e)}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        def log_message(self, fmt, *a):
            pass

    with open(args.schedule_event, "rb") as f:
        scheduled = f.read()

    def schedule():
        while True:
            function(args.schedule_function).request(scheduled)
            time.sleep(args.schedule_seconds)

    threading.Thread(target=schedule, daemon=True).start()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    log(f"listening on http://127.0.0.1:{args.port}, scheduling {args.schedule_function} every {args.schedule_seconds}s")
    server.serve_forever()


if __name__ == "__main__":
    main()
