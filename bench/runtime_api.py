"""A minimal Lambda Runtime API (the interface a Lambda custom runtime polls), on 127.0.0.1.

It hands one event at a time to the function process that polls it, times the answer, and
also answers the Lambda `Invoke` call the API makes to nudge the worker (202, nothing run),
so the measured process does every call it makes on AWS.

Only what naiq's functions use: `GET .../invocation/next`, `POST .../invocation/{id}/response`,
`POST .../invocation/{id}/error`, `POST .../init/error`, and `POST /2015-03-31/functions/{name}/invocations`.
"""

import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler

from quiet_server import QuietServer

PREFIX = "/2018-06-01/runtime"


class Answer:
    """What the function answered to one event."""

    def __init__(self, request_id, sent_at):
        self.request_id = request_id
        self.sent_at = sent_at
        self.answered_at = None
        self.body = None
        self.error = False
        self.done = threading.Event()

    @property
    def latency_ms(self):
        return (self.answered_at - self.sent_at) * 1000.0


class RuntimeApi:
    """One function's Runtime API. `invoke(event)` blocks until the function answers."""

    def __init__(self, deadline_seconds=30):
        self.events = queue.Queue()
        self.pending = {}
        self.first_next_at = None
        self.first_next = threading.Event()
        self.init_error = None
        self.nudges = 0
        self.deadline_seconds = deadline_seconds
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm
            # and the client's delayed ACK add 40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _body(self):
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _reply(self, status, body=b"", headers=()):
                try:
                    self.send_response(status)
                    for k, v in headers:
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the function was stopped

            def do_GET(self):
                if self.path != PREFIX + "/invocation/next":
                    return self._reply(404)
                now = time.monotonic()
                with api.lock:
                    if api.first_next_at is None:
                        api.first_next_at = now
                        api.first_next.set()
                event, answer = api.events.get()
                body = json.dumps(event).encode()
                deadline_ms = int((time.time() + api.deadline_seconds) * 1000)
                answer.sent_at = time.monotonic()
                self._reply(
                    200,
                    body,
                    [
                        ("Content-Type", "application/json"),
                        ("Lambda-Runtime-Aws-Request-Id", answer.request_id),
                        ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:bench",
                        ),
                        ("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000"),
                    ],
                )

            def do_POST(self):
                body = self._body()
                at = time.monotonic()
                if self.path.startswith("/2015-03-31/functions/"):
                    with api.lock:
                        api.nudges += 1
                    return self._reply(202, b"", [("Content-Type", "application/json")])
                if self.path == PREFIX + "/init/error":
                    api.init_error = body.decode(errors="replace")
                    api.first_next.set()
                    return self._reply(202)
                parts = self.path[len(PREFIX) :].split("/")
                # /invocation/{id}/response | /invocation/{id}/error
                if len(parts) == 4 and parts[1] == "invocation":
                    answer = api.pending.pop(parts[2], None)
                    if answer is not None:
                        answer.answered_at = at
                        answer.body = body
                        answer.error = parts[3] == "error"
                        answer.done.set()
                    return self._reply(202)
                return self._reply(404)

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def invoke(self, event, timeout=900):
        answer = Answer(str(uuid.uuid4()), None)
        self.pending[answer.request_id] = answer
        self.events.put((event, answer))
        if not answer.done.wait(timeout):
            raise TimeoutError("the function did not answer in %ss" % timeout)
        return answer

    def close(self):
        self.server.shutdown()
        self.server.server_close()
