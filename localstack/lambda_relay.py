#!/usr/bin/env python3
"""Local stand-in for the Lambda service's asynchronous invoke and EventBridge schedule.

`cargo lambda watch` answers invokes synchronously. The API nudges the worker with an
asynchronous (`Event`) invoke, which on AWS returns 202 at once; this relay accepts the
Lambda Invoke API on 127.0.0.1, answers `Event` invokes with 202 and runs them in the
background against `cargo lambda watch`, and invokes the worker (and the webhook delivery
function: `--schedule-function` may be given more than once) on a schedule like the
template's EventBridge rules. Per function, invocations are coalesced (at most one queued
behind the one running), as a reserved concurrency of 1 with a nudge would behave.

No invoke may block the relay: each one has a deadline, the worker's timeout
(WORKER_TIMEOUT_SECONDS, as the functions read it, or --worker-timeout) plus a grace of a
tenth of it (1-30 s), as Lambda ends an invocation at its timeout. An invoke still open
then (a function that hangs, or one that cargo lambda watch restarted mid-invoke) is cut
off, and the function is invoked again on the next tick.
"""

import argparse
import http.client
import http.server
import json
import os
import re
import socket
import sys
import threading
import time
import urllib.parse

INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


def invoke_deadline(worker_timeout):
    """Seconds an invoke may stay open: the worker's timeout and a grace of 1-30 s."""
    return worker_timeout + min(30.0, max(1.0, worker_timeout / 10))


class InvokeTimeout(Exception):
    pass


def post(target, path, payload, deadline):
    """POSTs `payload` and returns (status, body), or raises InvokeTimeout once `deadline`
    seconds have passed, however the target behaves (silent, or trickling bytes)."""
    url = urllib.parse.urlsplit(target)
    started = time.monotonic()
    # The socket's own timeout only bounds each read; the timer bounds the whole invoke.
    conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=deadline + 5)
    cut = threading.Event()
    sock = None

    def cut_off():
        cut.set()
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(deadline, cut_off)
    timer.daemon = True
    timer.start()
    try:
        conn.connect()
        # Kept: http.client lets go of it once the answer says the connection closes.
        sock = conn.sock
        if cut.is_set():
            cut_off()
        conn.request("POST", path, body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = resp.read()
        if cut.is_set():
            raise InvokeTimeout(f"no complete answer within {deadline:g} s")
        return resp.status, body
    except (OSError, http.client.HTTPException) as e:
        if cut.is_set() or time.monotonic() - started >= deadline:
            raise InvokeTimeout(f"no complete answer within {deadline:g} s") from e
        raise
    finally:
        timer.cancel()
        conn.close()


class Function:
    def __init__(self, name, target, deadline):
        self.name = name
        self.target = target
        self.deadline = deadline
        self.wanted = threading.Event()
        self.payload = b"{}"
        threading.Thread(target=self.loop, daemon=True).start()

    def request(self, payload):
        self.payload = payload
        self.wanted.set()

    def invoke(self, payload):
        path = f"/2015-03-31/functions/{self.name}/invocations"
        return post(self.target, path, payload, self.deadline)

    def loop(self):
        while True:
            self.wanted.wait()
            self.wanted.clear()
            try:
                status, body = self.invoke(self.payload)
                log(f"{self.name}: {status} {body[:300].decode(errors='replace')}")
            except InvokeTimeout as e:
                log(f"{self.name}: invoke cut off ({e}); the next tick invokes it again")
            except Exception as e:  # the function failed or is restarting; the next tick retries
                log(f"{self.name}: invoke failed: {e}")
                time.sleep(0.2)


def log(msg):
    print(f"lambda-relay {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--target", required=True, help="cargo lambda watch base URL")
    ap.add_argument("--schedule-function", action="append",
                    help="a function to invoke on the schedule (repeatable; default naiq-worker)")
    ap.add_argument("--schedule-seconds", type=float, default=60.0)
    ap.add_argument("--schedule-event", required=True)
    ap.add_argument("--worker-timeout", type=float,
                    default=float(os.environ.get("WORKER_TIMEOUT_SECONDS") or 900),
                    help="the worker's timeout in seconds (default: WORKER_TIMEOUT_SECONDS, else 900)")
    args = ap.parse_args()
    scheduled_functions = args.schedule_function or ["naiq-worker"]
    deadline = invoke_deadline(args.worker_timeout)

    functions = {}
    lock = threading.Lock()

    def function(name):
        with lock:
            if name not in functions:
                functions[name] = Function(name, args.target.rstrip("/"), deadline)
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
            # Each function has its own invoke thread: one that hangs holds up no other.
            for name in scheduled_functions:
                function(name).request(scheduled)
            time.sleep(args.schedule_seconds)

    threading.Thread(target=schedule, daemon=True).start()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    log(f"listening on http://127.0.0.1:{args.port}, scheduling {', '.join(scheduled_functions)} every "
        f"{args.schedule_seconds}s, invokes cut off after {deadline:g}s")
    server.serve_forever()


if __name__ == "__main__":
    main()
