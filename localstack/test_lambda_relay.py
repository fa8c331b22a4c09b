#!/usr/bin/env python3
"""The local relay never blocks: a worker that hangs (silent, or trickling bytes, as a
function that cargo lambda watch restarted mid-invoke may) is cut off at the worker's
deadline, and the schedule invokes it again on the next tick. Runs on 127.0.0.1 only, in a
few seconds: `python3 -m unittest discover -s localstack -p 'test_*.py'`.
"""

import http.client
import http.server
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
RELAY = os.path.join(HERE, "lambda_relay.py")
PATH = "/2015-03-31/functions/naiq-worker/invocations"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Target:
    """A stand-in for cargo lambda watch: the first invoke hangs without a word, the
    second answers its headers and then trickles a byte every 0.2 s, the rest answer."""

    def __init__(self):
        self.calls = []
        self.stop = threading.Event()
        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                n = len(target.calls)
                target.calls.append(time.monotonic())
                try:
                    if n == 0:
                        target.stop.wait(30)
                    elif n == 1:
                        self.send_response(200)
                        self.send_header("Content-Length", "1000")
                        self.end_headers()
                        while not target.stop.wait(0.2):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                    else:
                        body = b'{"stopped":"queue_empty"}'
                        self.send_response(200)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body)
                except OSError:
                    pass  # the relay hung up, as it should

            def log_message(self, fmt, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


class RelayNeverBlocks(unittest.TestCase):
    def setUp(self):
        self.target = Target()
        self.port = free_port()
        event = tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False)
        event.write(b'{"source": "aws.events"}')
        event.close()
        self.event = event.name
        # As up.sh starts it: the worker's timeout comes from the functions' variable.
        env = dict(os.environ, WORKER_TIMEOUT_SECONDS="1")
        self.log = tempfile.TemporaryFile()
        self.relay = subprocess.Popen(
            [sys.executable, RELAY, "--port", str(self.port), "--target", self.target.url,
             "--schedule-seconds", "0.3", "--schedule-event", self.event],
            env=env, stdout=subprocess.DEVNULL, stderr=self.log,
        )

    def tearDown(self):
        self.relay.kill()
        self.relay.wait(timeout=10)
        self.target.close()
        os.unlink(self.event)
        self.log.close()

    def relay_log(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def nudge(self):
        """An asynchronous invoke, as the API's nudge: answered at once, whatever runs."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
        conn.request("POST", PATH, body=b"{}", headers={"X-Amz-Invocation-Type": "Event"})
        status = conn.getresponse().status
        conn.close()
        return status

    def test_a_hung_worker_does_not_stop_the_schedule(self):
        start = time.monotonic()
        while len(self.target.calls) < 3 and time.monotonic() - start < 10:
            if self.target.calls:
                self.assertEqual(self.nudge(), 202)
            time.sleep(0.1)
        calls = [round(t - start, 1) for t in self.target.calls]
        seen = f"invokes at {calls} s; the relay's log:\n{self.relay_log()}"
        # Hang, trickle, then answered: each hung invoke is cut off at 1 s + 1 s grace.
        self.assertGreaterEqual(len(calls), 3, seen)
        self.assertLess(calls[2], 8, seen)
        self.assertGreaterEqual(calls[1] - calls[0], 1.5, f"cut off too early: {seen}")
        self.assertIn("invoke cut off", self.relay_log())


class EveryScheduledFunctionRuns(unittest.TestCase):
    """The worker and the webhook delivery function are both scheduled, each on its own:
    a worker that hangs does not keep the webhooks function from its ticks."""

    def test_a_hung_worker_does_not_hold_the_webhooks_function(self):
        calls = []
        stop = threading.Event()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                calls.append((self.path, time.monotonic()))
                if "naiq-worker" in self.path:
                    stop.wait(30)
                    return
                body = b"{}"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, fmt, *a):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        event = tempfile.NamedTemporaryFile("wb", suffix=".json", delete=False)
        event.write(b'{"source": "aws.events"}')
        event.close()
        relay = subprocess.Popen(
            [sys.executable, RELAY, "--port", str(free_port()),
             "--target", f"http://127.0.0.1:{server.server_address[1]}",
             "--schedule-function", "naiq-worker", "--schedule-function", "naiq-webhooks",
             "--schedule-seconds", "0.2", "--schedule-event", event.name,
             "--worker-timeout", "20"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            start = time.monotonic()
            while time.monotonic() - start < 10:
                if sum("naiq-webhooks" in p for p, _ in calls) >= 3:
                    break
                time.sleep(0.1)
            hooks = [round(t - start, 1) for p, t in calls if "naiq-webhooks" in p]
            workers = [p for p, _ in calls if "naiq-worker" in p]
            self.assertGreaterEqual(len(hooks), 3, f"webhooks invoked at {hooks}")
            self.assertEqual(len(workers), 1, "the worker hangs in its one invoke")
        finally:
            relay.kill()
            relay.wait(timeout=10)
            stop.set()
            server.shutdown()
            server.server_close()
            os.unlink(event.name)


if __name__ == "__main__":
    unittest.main()
