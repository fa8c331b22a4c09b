"""A counting proxy between naiq's functions and the AWS emulator, on 127.0.0.1.

Every request is forwarded as it came (moto does not check signatures) and counted by
service and operation, with its bytes. For DynamoDB it also works out the request units AWS
would bill on demand, from the items' sizes as DynamoDB measures them (attribute names plus
values): a write unit per started KiB written (twice in a transaction), a read unit per
started 4 KiB read strongly (half for an eventually consistent read). To learn the size of an
item an `UpdateItem` leaves, it asks for `ReturnValues: ALL_NEW` where the caller asked for
nothing back (naiq never reads what it did not ask for).
"""

import base64
import http.client
import json
import math
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from quiet_server import QuietServer


def attribute_size(value):
    """Bytes DynamoDB counts for one AttributeValue (JSON form)."""
    (kind, v), = value.items()
    if kind == "S":
        return len(v.encode())
    if kind == "N":
        digits = len(v.lstrip("-").replace(".", "").lstrip("0")) or 1
        return math.ceil(digits / 2) + 1
    if kind == "B":
        return len(base64.b64decode(v))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in v)
    if kind == "NS":
        return sum(attribute_size({"N": n}) for n in v)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in v)
    if kind == "L":
        return 3 + sum(attribute_size(x) + 1 for x in v)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(x) + 1 for k, x in v.items())
    return 0


def item_size(item):
    return sum(len(k.encode()) + attribute_size(v) for k, v in (item or {}).items())


def write_units(size):
    return max(1, math.ceil(size / 1024))


def read_units(size, consistent):
    units = max(1, math.ceil(size / 4096))
    return units if consistent else units / 2


class Counter:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = defaultdict(int)
        self.sent = defaultdict(int)
        self.received = defaultdict(int)
        self.units = defaultdict(float)  # "read" | "write" -> DynamoDB request units

    def add(self, service, operation, sent, received, units=()):
        with self.lock:
            op = f"{service}:{operation}"
            self.requests[op] += 1
            self.sent[op] += sent
            self.received[op] += received
            for kind, n in units:
                self.units[kind] += n

    def snapshot(self):
        with self.lock:
            return {
                "requests": dict(self.requests),
                "sent": dict(self.sent),
                "received": dict(self.received),
                "dynamodb_units": dict(self.units),
            }


def difference(after, before):
    """What was counted between two snapshots."""
    out = {}
    for part in ("requests", "sent", "received", "dynamodb_units"):
        out[part] = {k: v - before[part].get(k, 0) for k, v in after[part].items()
                     if v - before[part].get(k, 0)}
    return out


def dynamodb_units(operation, request, response):
    """The request units of one DynamoDB call, from its request and answer."""
    if operation == "PutItem":
        return [("write", write_units(item_size(request.get("Item"))))]
    if operation == "UpdateItem":
        return [("write", write_units(item_size(response.get("Attributes"))))]
    if operation == "DeleteItem":
        return [("write", 1)]
    if operation == "GetItem":
        return [("read", read_units(item_size(response.get("Item")),
                                     request.get("ConsistentRead", False)))]
    if operation == "BatchGetItem":
        consistent = any(t.get("ConsistentRead") for t in request.get("RequestItems", {}).values())
        found = [i for items in response.get("Responses", {}).values() for i in items]
        asked = sum(len(t.get("Keys", [])) for t in request.get("RequestItems", {}).values())
        # An item asked for and not found is billed the minimum, as with GetItem.
        return [("read", sum(read_units(item_size(i), consistent) for i in found)
                 + max(0, asked - len(found)) * read_units(0, consistent))]
    if operation in ("Query", "Scan"):
        size = sum(item_size(i) for i in response.get("Items", []))
        return [("read", read_units(size, request.get("ConsistentRead", False)))]
    if operation == "TransactWriteItems":
        total = 0
        for action in request.get("TransactItems", []):
            (kind, body), = action.items()
            size = item_size(body.get("Item")) if kind == "Put" else item_size(body.get("Key"))
            total += 2 * write_units(size)
        return [("write", total)]
    if operation == "TransactGetItems":
        return [("read", sum(2 * read_units(item_size(r.get("Item")), True)
                             for r in response.get("Responses", [])))]
    if operation == "BatchWriteItem":
        return [("write", sum(write_units(item_size(w.get("PutRequest", {}).get("Item")))
                              for ws in request.get("RequestItems", {}).values() for w in ws))]
    return []


def refused_write_units(operation, request):
    """A conditional write that is refused is billed as if it had been made: the request's
    item for a PutItem, at least one unit for the others (AWS bills the item it would have
    changed, which the refusal does not show), and a cancelled transaction as the same
    transaction made (an upper bound: two units per item it names)."""
    if operation == "PutItem":
        return [("write", write_units(item_size(request.get("Item"))))]
    if operation in ("UpdateItem", "DeleteItem"):
        return [("write", 1)]
    if operation == "TransactWriteItems":
        return dynamodb_units(operation, request, {})
    return []


def service_of(headers):
    auth = headers.get("Authorization", "")
    if "Credential=" in auth:
        scope = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
        if len(scope) >= 4:
            return scope[3]
    return "unknown"


class CountingProxy:
    def __init__(self, target):
        self.counter = Counter()
        parts = urlsplit(target)
        host, port = parts.hostname, parts.port or 80
        counter = self.counter
        local = threading.local()

        def connection():
            if getattr(local, "conn", None) is None:
                local.conn = http.client.HTTPConnection(host, port, timeout=120)
            return local.conn

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without this, Nagle's algorithm
            # and the client's delayed ACK add 40 ms to every answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):
                pass

            def _read_body(self):
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    out = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(out)
                        out += self.rfile.read(size)
                        self.rfile.readline()
                n = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(n) if n else b""

            def _forward(self):
                body = self._read_body()
                service = service_of(self.headers)
                target = self.headers.get("X-Amz-Target", "")
                operation = target.split(".")[-1] if target else None
                request_json = None
                asked_new = False
                if service == "dynamodb" and body:
                    request_json = json.loads(body)
                    if operation == "UpdateItem" and request_json.get("ReturnValues", "NONE") == "NONE":
                        request_json["ReturnValues"] = "ALL_NEW"
                        asked_new = True
                        body = json.dumps(request_json).encode()
                if operation is None:
                    has_key = len(self.path.split("?")[0].strip("/").split("/")) > 1
                    operation = f"{self.command} {'object' if has_key else 'bucket'}"
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("content-length", "transfer-encoding", "connection")}
                headers["Content-Length"] = str(len(body))
                conn = connection()
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                except (http.client.HTTPException, OSError):
                    conn.close()
                    local.conn = None
                    conn = connection()
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                data = resp.read()
                units = []
                if service == "dynamodb" and resp.status == 200 and request_json is not None:
                    response_json = json.loads(data or b"{}")
                    units = dynamodb_units(operation, request_json, response_json)
                    if asked_new:
                        response_json.pop("Attributes", None)
                        data = json.dumps(response_json).encode()
                elif service == "dynamodb" and request_json is not None and \
                        b"ConditionalCheckFailed" in data:
                    units = refused_write_units(operation, request_json)
                counter.add(service, operation, len(body), len(data), units)
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                # A HEAD answer's length is the object's, not its (empty) body's.
                length = resp.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
