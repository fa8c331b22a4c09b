#!/usr/bin/env python3
"""An endpoint on 127.0.0.1 that answers every request with the same small DynamoDB
`GetItem` answer and keeps each connection open, as AWS's endpoints do: the client's own
per-call CPU, with no server work and no connection set-up in it (bench/sdk_floor.sh).

  python3 bench/canned_dynamodb.py PORT
"""

import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = b'{"Item":{"pk":{"S":"x"}}}'


class Canned(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # The header and the body go out as two writes: without this, Nagle's algorithm
        # holds the second for the client's delayed acknowledgement (40 ms).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(ANSWER)))
        self.end_headers()
        self.wfile.write(ANSWER)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Canned).serve_forever()
