"""The bench's HTTP servers on 127.0.0.1 (the Lambda Runtime API, the counting proxy)."""

import sys
from http.server import ThreadingHTTPServer


class QuietServer(ThreadingHTTPServer):
    """Says nothing when a client it kept a connection open for goes away: a measured
    process is stopped with its connection open, and that is not an error."""

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)
