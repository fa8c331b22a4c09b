#!/usr/bin/env python3
"""A webhook receiver for the end-to-end tests: it verifies every request with the
`standardwebhooks` package (PyPI, the specification's own library) and appends one JSON
line per request to --log: {"verified": true, "webhook_id", "type", "task_id", "status"}
or {"verified": false, "error"}. With --hang it accepts connections, reads the request and
never answers (a receiver that hangs). It listens on 127.0.0.1 only and prints
"listening on http://127.0.0.1:PORT" once ready. Run it through webhook-receiver.sh,
which installs the package into a venv.
"""

import argparse
import http.server
import json
import sys
import threading

try:
    from standardwebhooks.webhooks import Webhook
except ImportError:  # older layouts
    from standardwebhooks import Webhook


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--log", required=True)
    ap.add_argument("--secret", required=True, help="whsec_…")
    ap.add_argument("--hang", action="store_true")
    args = ap.parse_args()
    webhook = Webhook(args.secret)
    lock = threading.Lock()
    never = threading.Event()

    def record(entry):
        with lock, open(args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if args.hang:
                record({"hung": True, "webhook_id": self.headers.get("webhook-id")})
                never.wait()
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                payload = webhook.verify(body, headers)
            except Exception as e:  # any verification failure is the test's failure
                record({"verified": False, "error": f"{type(e).__name__}: {e}"})
                self.send_response(400)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data = payload.get("data") or {}
            record({
                "verified": True,
                "webhook_id": headers.get("webhook-id"),
                "type": payload.get("type"),
                "task_id": data.get("task_id"),
                "status": data.get("status"),
            })
            self.send_response(204)
            self.end_headers()

        def log_message(self, fmt, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
