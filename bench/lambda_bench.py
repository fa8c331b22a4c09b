#!/usr/bin/env python3
"""naiq's Lambda benchmark: the release binaries of the API and the worker under a minimal
Lambda Runtime API (bench/runtime_api.py), on the local emulator and the fake NovelAI that
`bench/run.sh` starts. Prints a Markdown table and writes every figure as JSON.

For each API route, a fresh process: init (process start → its first `next`), the first
request's latency, then N warm requests: latency p50/p90 and CPU per request (the process's
user + system time over the N requests, from /proc/<pid>/stat), and the process's peak RSS
(VmHWM). For the worker: first the schedule's tick on a quiet stack (one read, no drain); one
drain of the jobs the submit scenarios queued; per job, the worker's overhead (slot reserved →
the request arrives at the fake; the fake's answer → `SUCCESS` logged) and CPU per job; then a
drain of V5 jobs through the stream route, with their step previews, counted per job; then
jobs with a webhook, their events delivered by the webhooks function to a receiver on
127.0.0.1, counted per job. Then the API's peak RSS for the worst inputs: the largest
image and mask it accepts, and an 8192×8192 PNG it refuses from its header; and the worker's
peak RSS for its worst jobs (the largest upscale, a background removal of the largest source)
with the fake answering random pixels, PNGs as large as their size allows.

With `--count-aws`, every AWS request goes through a counting proxy (bench/aws_counter.py):
the counts per job feed docs/cost.md. Counting adds latency, so timings come from a run
without it.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quiet_server import QuietServer  # noqa: E402
from runtime_api import RuntimeApi  # noqa: E402
import aws_counter  # noqa: E402
import bodies  # noqa: E402

# The counting proxy, with --count-aws.
COUNTER = None


def counted():
    return COUNTER.counter.snapshot() if COUNTER else None


def counted_since(before, per):
    """AWS requests, bytes and DynamoDB units since `before`, divided by `per`."""
    if before is None:
        return None
    d = aws_counter.difference(COUNTER.counter.snapshot(), before)
    return {part: {k: v / per for k, v in values.items()} for part, values in d.items()}

def aws_requests(counted):
    """", N AWS requests" for a counted figure; nothing when the run did not count."""
    if not counted:
        return ""
    return f", {sum(counted['requests'].values()):.0f} AWS requests"


HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system time of the whole process (every thread, live or ended)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM")


def percentile(values, p):
    s = sorted(values)
    k = (len(s) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def http_event(method, path, key=None, body=None, route=None, query=""):
    """An API Gateway HTTP API (payload 2.0) event, as the sample events in events/ are."""
    headers = {"accept": "application/json", "host": "bench.execute-api.us-east-1.amazonaws.com",
               "user-agent": "naiq-bench"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    event = {
        "version": "2.0",
        "routeKey": f"{method} {route or path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012", "apiId": "bench",
            "domainName": "bench.execute-api.us-east-1.amazonaws.com", "domainPrefix": "bench",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "naiq-bench"},
            "requestId": "bench", "routeKey": f"{method} {route or path}", "stage": "$default",
            "time": "04/Dec/2026:12:00:00 +0000", "timeEpoch": int(time.time() * 1000),
        },
        "isBase64Encoded": False,
    }
    if body is not None:
        headers["content-type"] = "application/json"
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


class Function:
    """One function process under its own Runtime API; its log lines are time-stamped."""

    def __init__(self, binary, name, extra_env=None, deadline_seconds=30):
        self.rt = RuntimeApi(deadline_seconds=deadline_seconds)
        self.name = name
        env = dict(os.environ)
        env.update({
            "AWS_LAMBDA_RUNTIME_API": self.rt.address,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_ENDPOINT_URL_LAMBDA": f"http://{self.rt.address}",
            "WORKER_FUNCTION_NAME": "naiq-worker",
        })
        env.pop("WEBHOOKS_FUNCTION_NAME", None)
        if COUNTER:
            env["AWS_ENDPOINT_URL"] = COUNTER.url
        env.update(extra_env or {})
        self.lines = []
        started = time.monotonic()
        self.proc = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if not self.rt.first_next.wait(30):
            self.stop()
            raise RuntimeError(f"{name} never asked for an event")
        if self.rt.init_error:
            self.stop()
            raise RuntimeError(f"{name} failed to start: {self.rt.init_error}")
        self.init_ms = (self.rt.first_next_at - started) * 1000.0

    def log_bytes(self):
        time.sleep(0.2)  # let the reader catch up
        return sum(len(line) + 1 for _, line in self.lines)

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.append((time.time(), raw.decode(errors="replace").rstrip("\n")))

    def invoke(self, event, timeout=900):
        answer = self.rt.invoke(event, timeout)
        if answer.error:
            raise RuntimeError(f"invocation failed: {answer.body[:500]!r}")
        return answer

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.rt.close()
        # BENCH_LOG_DIR: keep each process's log lines, to see what the log bytes are.
        if os.environ.get("BENCH_LOG_DIR"):
            self.reader.join(5)
            os.makedirs(os.environ["BENCH_LOG_DIR"], exist_ok=True)
            path = os.path.join(os.environ["BENCH_LOG_DIR"], f"{self.name}-{self.proc.pid}.log")
            with open(path, "w") as out:
                out.writelines(line + "\n" for _, line in self.lines)


def status_of(answer):
    out = json.loads(answer.body)
    return out.get("statusCode"), json.loads(out.get("body") or "null")


def api_scenario(args, name, make_event, expect, n):
    """A fresh API process: init, first request, then n warm requests."""
    print(f"lambda_bench: {name}", file=sys.stderr, flush=True)
    f = Function(args.api_bin, "naiq-api")
    try:
        first = f.invoke(make_event(0))
        code, body = status_of(first)
        if code not in expect:
            raise RuntimeError(f"{name}: first request answered {code}: {body}")
        latencies, cpu0 = [], cpu_seconds(f.proc.pid)
        logs0, aws0 = f.log_bytes(), counted()
        for i in range(1, n + 1):
            a = f.invoke(make_event(i))
            code, body = status_of(a)
            if code not in expect:
                raise RuntimeError(f"{name}: request {i} answered {code}: {body}")
            latencies.append(a.latency_ms)
        cpu_ms = (cpu_seconds(f.proc.pid) - cpu0) * 1000.0 / n
        aws = counted_since(aws0, n)
        return {
            "log_bytes_per_request": (f.log_bytes() - logs0) / n, "aws_per_request": aws,
            "route": name, "init_ms": f.init_ms, "first_ms": first.latency_ms,
            "p50_ms": percentile(latencies, 0.5), "p90_ms": percentile(latencies, 0.9),
            "cpu_ms": cpu_ms, "peak_rss_mib": peak_rss_mib(f.proc.pid), "requests": n,
            "nudges": f.rt.nudges,
        }
    finally:
        f.stop()


def fake(path, method="GET", body=None):
    url = os.environ["NAIQ_FAKE_NOVELAI_URL"] + path
    req = urllib.request.Request(url, method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def queue_jobs(args, key, bodies, route="/generate"):
    """Submits each body with `key` from one API process and returns the task ids; a submit
    that is not accepted stops the bench."""
    api = Function(args.api_bin, "naiq-api")
    ids = []
    try:
        for i, body in enumerate(bodies):
            code, answer = status_of(api.invoke(http_event("POST", route, key, body)))
            if code not in (200, 202):
                raise RuntimeError(f"POST {route} #{i}: submit answered {code}: {answer}")
            ids.append(answer["task_id"])
    finally:
        api.stop()
    return ids


def iso_seconds(s):
    from datetime import datetime
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def worker_scenario(args, expected_jobs):
    """One drain of the waiting jobs: overhead and CPU per job."""
    before = len(fake("/_fake/requests"))
    f = Function(args.worker_bin, "naiq-worker", deadline_seconds=900)
    try:
        aws0 = counted()
        cpu0 = cpu_seconds(f.proc.pid)
        started = time.monotonic()
        answer = f.invoke({"source": "aws.events", "detail-type": "Scheduled Event"})
        wall = time.monotonic() - started
        cpu = cpu_seconds(f.proc.pid) - cpu0
        rss = peak_rss_mib(f.proc.pid)
        report = json.loads(answer.body)
        jobs = max(report.get("succeeded", 0), 1)
        aws = counted_since(aws0, jobs)
        log_bytes = f.log_bytes() / jobs
        # The schedule's tick right after: every lane is empty, but a call was made in the
        # last ten minutes, so it drains (a killed worker's job may come back).
        aws0 = counted()
        idle = f.invoke({"source": "aws.events", "detail-type": "Scheduled Event"})
        idle_ms = idle.latency_ms
        idle_aws = counted_since(aws0, 1)
    finally:
        f.stop()
    calls = [r for r in fake("/_fake/requests")[before:] if r["path"] == "/ai/generate-image"]
    reserved, succeeded = {}, {}
    order = []
    for at, line in f.lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        msg = rec.get("fields", {}).get("message") or rec.get("message")
        task = rec.get("fields", {}).get("task_id") or rec.get("task_id")
        if msg == "slot reserved" and task:
            reserved[task] = at
            order.append(task)
        elif msg == "job succeeded" and task:
            succeeded[task] = at
    to_upstream, to_success = [], []
    for task, call in zip(order, calls):
        to_upstream.append((iso_seconds(call["received_at"]) - reserved[task]) * 1000.0)
        if task in succeeded and call.get("finished_at"):
            to_success.append((succeeded[task] - iso_seconds(call["finished_at"])) * 1000.0)
    jobs = report.get("succeeded", 0)
    if jobs < expected_jobs:
        raise RuntimeError(f"the drain finished {jobs} of {expected_jobs} jobs: {report}")
    return {
        "init_ms": f.init_ms, "jobs": jobs, "drain_s": wall,
        "cpu_ms_per_job": cpu * 1000.0 / max(jobs, 1), "peak_rss_mib": rss,
        "reserved_to_upstream_ms_p50": percentile(to_upstream, 0.5),
        "reserved_to_upstream_ms_p90": percentile(to_upstream, 0.9),
        "answer_to_success_ms_p50": percentile(to_success, 0.5),
        "answer_to_success_ms_p90": percentile(to_success, 0.9),
        "report": report, "aws_per_job": aws, "log_bytes_per_job": log_bytes,
        "idle_drain_ms": idle_ms, "aws_per_idle_drain": idle_aws,
    }


def measured(function, event, per=1):
    """Invokes `function` with `event`: its answer, the CPU seconds it took and the AWS
    requests it made, divided by `per`."""
    aws0 = counted()
    cpu0 = cpu_seconds(function.proc.pid)
    answer = function.invoke(event)
    cpu = cpu_seconds(function.proc.pid) - cpu0
    return answer, cpu, counted_since(aws0, per)


def scheduled_tick(args):
    """One schedule tick in a fresh worker process, stopped after it: the process, its
    answer, the drain report, the CPU seconds the tick took and the AWS count before it."""
    f = Function(args.worker_bin, "naiq-worker", deadline_seconds=900)
    try:
        aws0 = counted()
        cpu0 = cpu_seconds(f.proc.pid)
        answer = f.invoke({"source": "aws.events", "detail-type": "Scheduled Event"})
        cpu = cpu_seconds(f.proc.pid) - cpu0
    finally:
        f.stop()
    return f, answer, json.loads(answer.body), cpu, aws0


def quiet_tick_scenario(args):
    """The schedule's tick on a quiet stack (nothing waits, no call in the last ten minutes,
    not a housekeeping minute: most minutes of a day), in a fresh worker process before any
    job exists. It reads the lane counters and the pacing state and ends
    (`worker::tick`)."""
    # Every tenth minute is a housekeeping one, which drains whatever the counters say.
    while time.gmtime().tm_min % 10 == 0 or time.gmtime().tm_sec >= 58:
        time.sleep(1)
    f, answer, report, cpu, aws0 = scheduled_tick(args)
    aws = counted_since(aws0, 1)
    if report.get("stopped") != "nothing_due":
        raise RuntimeError(f"the quiet tick drained: {report}")
    return {"init_ms": f.init_ms, "latency_ms": answer.latency_ms, "cpu_ms": cpu * 1000.0,
            "aws": aws, "log_bytes": f.log_bytes(), "report": report}


def busy_scenario(args, key, body):
    """What a nudge and a schedule tick cost while another invocation drains: every submit
    nudges the worker, and the schedule ticks every minute; while a drain holds the lease
    (most of a busy window) each finds it taken and ends. One job runs at a fake that takes
    four seconds; mid-call (the draining process then makes no AWS request), a fresh worker
    process is nudged, then another is given the schedule's event. Counted per invocation."""
    queue_jobs(args, key, [body])
    before = len(fake("/_fake/requests"))
    fake("/_fake/config", "PUT", {"latency_ms": 4000})
    draining = Function(args.worker_bin, "naiq-worker", deadline_seconds=900)
    done = {}
    drain = threading.Thread(target=lambda: done.update(
        answer=draining.invoke({"source": "naiq.nudge"})), daemon=True)
    measured_by = {}
    try:
        drain.start()
        deadline = time.monotonic() + 20
        while len(fake("/_fake/requests")) == before:
            if time.monotonic() > deadline:
                raise RuntimeError("the draining worker never called the fake")
            time.sleep(0.05)
        for name, event in [("nudge", {"source": "naiq.nudge"}),
                            ("tick", {"source": "aws.events", "detail-type": "Scheduled Event"})]:
            other = Function(args.worker_bin, "naiq-worker", deadline_seconds=900)
            try:
                measured_by[name] = measured(other, event)
            finally:
                other.stop()
        drain.join(30)
    finally:
        fake("/_fake/config", "PUT", {"latency_ms": 200})
        draining.stop()
    out = {}
    for name, (answer, cpu, aws) in measured_by.items():
        report = json.loads(answer.body)
        if report.get("stopped") != "lease_held":
            raise RuntimeError(f"the {name} did not find the lease held: {report}")
        out[name] = {"latency_ms": answer.latency_ms, "cpu_ms": cpu * 1000.0, "aws": aws,
                     "report": report}
    return out


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers every POST 200 and counts them."""

    def __init__(self):
        receiver = self
        self.posts = 0
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.posts += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def webhook_scenario(args, key, body, jobs=20):
    """Jobs whose client takes webhooks instead of polling: the worker queues each job's
    events (started, succeeded) and nudges the webhooks function, which signs and POSTs
    them to a receiver on 127.0.0.1 and records each. Counted per job: the worker's AWS
    requests, the nudges (each one an invocation of the webhooks function on AWS), and the
    webhooks function's requests and time, from one drain of every event and one
    invocation with nothing to deliver (what each further nudge, and its schedule's tick,
    costs)."""
    receiver = Receiver()
    try:
        queue_jobs(args, key, [dict(body, webhook_url=receiver.url)] * jobs)
        worker = Function(args.worker_bin, "naiq-worker", deadline_seconds=900,
                          extra_env={"WEBHOOKS_FUNCTION_NAME": "naiq-webhooks"})
        try:
            aws0 = counted()
            report = json.loads(worker.invoke(
                {"source": "aws.events", "detail-type": "Scheduled Event"}).body)
            done = report.get("succeeded", 0)
            aws = counted_since(aws0, max(done, 1))
            nudges = worker.rt.nudges
            worker_logs = worker.log_bytes()
        finally:
            worker.stop()
        if done != jobs:
            raise RuntimeError(f"the webhook drain finished {done} of {jobs} jobs: {report}")
        hooks = Function(args.webhooks_bin, "naiq-webhooks", deadline_seconds=60)
        try:
            drained, cpu, hooks_aws = measured(hooks, {"source": "naiq.nudge"}, done)
            delivered = json.loads(drained.body).get("delivered", 0)
            aws0 = counted()
            idle = hooks.invoke({"source": "aws.events", "detail-type": "Scheduled Event"})
            idle_aws = counted_since(aws0, 1)
            rss = peak_rss_mib(hooks.proc.pid)
            hooks_logs = hooks.log_bytes()
        finally:
            hooks.stop()
    finally:
        receiver.stop()
    if receiver.posts < 2 * jobs or delivered < 2 * jobs:
        raise RuntimeError(f"{receiver.posts} webhook POSTs for {jobs} jobs ({delivered} delivered)")
    return {
        "jobs": done, "aws_per_job": aws, "log_bytes_per_job": (worker_logs + hooks_logs) / done,
        "nudges_per_job": nudges / done, "events_per_job": delivered / done,
        "webhooks_ms_per_job": drained.latency_ms / done, "webhooks_cpu_ms_per_job": cpu * 1000 / done,
        "webhooks_aws_per_job": hooks_aws, "webhooks_idle_ms": idle.latency_ms,
        "webhooks_aws_per_idle": idle_aws, "webhooks_init_ms": hooks.init_ms,
        "webhooks_peak_rss_mib": rss,
    }


def stream_scenario(args, key, jobs=10):
    """A drain of V5 jobs, the default model, which go through the stream route with step
    previews: the fake takes 85 ms a step (a 23-step image in about two seconds, as NovelAI
    streams it), so the previews are thinned out as they would be. Counted per job."""
    queue_jobs(args, key, [{"prompt": f"1girl, 猫耳, stream {i}", "resolution": "portrait"}
                           for i in range(jobs)])
    fake("/_fake/config", "PUT", {"step_delay_ms": 85})
    try:
        f, answer, report, cpu, aws0 = scheduled_tick(args)
    finally:
        fake("/_fake/config", "PUT", {"step_delay_ms": 0})
    done = report.get("succeeded", 0)
    aws = counted_since(aws0, max(done, 1))
    log_bytes = f.log_bytes() / max(done, 1)
    if done != jobs:
        raise RuntimeError(f"the stream drain finished {done} of {jobs} jobs: {report}")
    return {"jobs": done, "drain_s": answer.latency_ms / 1000.0,
            "cpu_ms_per_job": cpu * 1000.0 / done, "aws_per_job": aws,
            "log_bytes_per_job": log_bytes}


def worst_inputs(args, key):
    """The API's peak RSS on the costliest bodies (each in a fresh process)."""
    out = []
    for name, body, expect in [
        ("largest image + mask (accepted)", bodies.largest_image_and_mask(), {200, 202}),
        ("8192x8192 PNG (refused from its header)", bodies.single_colour_8192(), {400, 413}),
    ]:
        f = Function(args.api_bin, "naiq-api")
        try:
            idle = peak_rss_mib(f.proc.pid)
            a = f.invoke(http_event("POST", "/generate", key, body))
            code, _ = status_of(a)
            if code not in expect:
                raise RuntimeError(f"{name}: answered {code}")
            out.append({"input": name, "body_bytes": len(body), "status": code,
                        "latency_ms": a.latency_ms, "idle_rss_mib": idle,
                        "peak_rss_mib": peak_rss_mib(f.proc.pid)})
        finally:
            f.stop()
    return out


def worst_jobs(args, key):
    """The worker's peak RSS on the largest answers NovelAI can send (each in a fresh
    process): the fake fills the tools' pictures with noise for these jobs."""
    out = []
    fake("/_fake/config", "PUT", {"noisy_tools": True})
    try:
        for name, route, body in bodies.worst_jobs():
            # Whatever an earlier scenario left waiting is drained first, by a process of
            # its own, so the one measured runs this job alone.
            w = Function(args.worker_bin, "naiq-worker", deadline_seconds=900)
            try:
                w.invoke({"source": "aws.events", "detail-type": "Scheduled Event"})
            finally:
                w.stop()
            task_id = queue_jobs(args, key, [body], route)[0]
            w = Function(args.worker_bin, "naiq-worker", deadline_seconds=900)
            try:
                idle = peak_rss_mib(w.proc.pid)
                cpu0 = cpu_seconds(w.proc.pid)
                a = w.invoke({"source": "aws.events", "detail-type": "Scheduled Event"})
                cpu = cpu_seconds(w.proc.pid) - cpu0
                peak = peak_rss_mib(w.proc.pid)
            finally:
                w.stop()
            report = json.loads(a.body)
            if report.get("succeeded") != 1 or report.get("failed"):
                raise RuntimeError(f"{name}: the worker's drain: {report}")
            out.append({"job": name, "drain_ms": a.latency_ms, "cpu_ms": cpu * 1000.0,
                        "idle_rss_mib": idle, "peak_rss_mib": peak,
                        "task_id": task_id})
    finally:
        fake("/_fake/config", "PUT", {"noisy_tools": False})
    return out


def run(args):
    key = os.environ["NAIQ_API_KEY"]
    if args.only_worst_jobs:
        return {"api": [], "machine": machine(), "worst_jobs": worst_jobs(args, key)}
    n = args.requests
    seed_body = {"prompt": "1girl, cat ears, 猫耳", "model": "nai-v3", "resolution": "portrait"}
    results = {"api": [], "machine": machine()}
    # Before any job exists: the tick of most minutes of a day.
    results["quiet_tick"] = quiet_tick_scenario(args)
    api = results["api"]
    api.append(api_scenario(args, "GET /health", lambda i: http_event("GET", "/health"),
                            {200}, n))
    def submit(i):
        return http_event("POST", "/generate", key, seed_body)

    # The submit scenario also leaves the jobs the other scenarios read.
    f_sub = api_scenario(args, "POST /generate", submit, {200, 202}, n)
    api.append(f_sub)
    # A waiting job to ask about, behind the key's others.
    waiting = queue_jobs(args, key, [seed_body] * (n + 2))[0]
    solo_key = os.environ.get("NAIQ_API_KEY_SOLO")
    solo = queue_jobs(args, solo_key, [seed_body])[0] if solo_key else None
    for name, route, make in [
        ("GET /task_status (waiting)", "/task_status/{task_id}",
         lambda i: http_event("GET", f"/task_status/{waiting}", key,
                              route="/task_status/{task_id}")),
    ] + ([
        # The common poll: the key's only waiting job (one BatchGetItem).
        ("GET /task_status (waiting, the key's only job)", "/task_status/{task_id}",
         lambda i: http_event("GET", f"/task_status/{solo}", solo_key,
                              route="/task_status/{task_id}")),
    ] if solo else []) + [
        ("GET /queue_status", None, lambda i: http_event("GET", "/queue_status", key)),
        ("GET /rate_limit_status", None, lambda i: http_event("GET", "/rate_limit_status", key)),
        ("GET /tasks", None, lambda i: http_event("GET", "/tasks", key, query="limit=20")),
        ("GET /usage", None, lambda i: http_event("GET", "/usage", key)),
    ]:
        api.append(api_scenario(args, name, make, {200}, n))
    # The worker drains every job queued so far (none cancelled, so its counts per job are
    # a job's own, not shared with messages of cancelled jobs it skips).
    results["worker"] = worker_scenario(args, args.jobs_expected or (2 * n + 2))
    busy = busy_scenario(args, key, seed_body)
    results["busy_nudge"], results["busy_tick"] = busy["nudge"], busy["tick"]
    # Jobs to cancel, queued after the drain; their messages are then drained out of the
    # way, uncounted, before the V5 jobs.
    # One per request of the scenario: its first and the n warm ones.
    to_cancel = queue_jobs(args, key, [seed_body] * (n + 1))
    api.append(api_scenario(
        args, "POST /cancel_task", lambda i: http_event(
            "POST", f"/cancel_task/{to_cancel[i]}", key, route="/cancel_task/{task_id}"),
        {200}, n))
    sweep = Function(args.worker_bin, "naiq-worker", deadline_seconds=900)
    try:
        sweep.invoke({"source": "naiq.nudge"})
    finally:
        sweep.stop()
    results["stream_worker"] = stream_scenario(args, key)
    results["webhook_jobs"] = webhook_scenario(args, key, seed_body)
    api.append(api_scenario(
        args, "GET /task_status (done)",
        lambda i: http_event("GET", f"/task_status/{waiting}", key,
                             route="/task_status/{task_id}"), {200}, n))
    results["worst_inputs"] = worst_inputs(args, key)
    results["worst_jobs"] = worst_jobs(args, key)
    return results


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count(),
            "load_avg": os.getloadavg(), "kernel": os.uname().release}


def markdown(r):
    if not r["api"]:
        return worst_jobs_table(r)
    out = [f"Machine: {r['machine']['cpu']}, {r['machine']['cores']} cores; "
           f"load average at the end {r['machine']['load_avg'][0]:.2f}", "",
           "| route | init ms | first request ms | warm p50 ms | warm p90 ms | CPU ms/request | peak RSS MiB |",
           "|---|---|---|---|---|---|---|"]
    for a in r["api"]:
        out.append(f"| `{a['route']}` | {a['init_ms']:.1f} | {a['first_ms']:.1f} | "
                   f"{a['p50_ms']:.1f} | {a['p90_ms']:.1f} | {a['cpu_ms']:.2f} | "
                   f"{a['peak_rss_mib']:.1f} |")
    w = r["worker"]
    out += ["", "| worker | figure |", "|---|---|",
            f"| init | {w['init_ms']:.1f} ms |",
            f"| jobs in one drain | {w['jobs']} in {w['drain_s']:.1f} s |",
            f"| CPU per job | {w['cpu_ms_per_job']:.2f} ms |",
            f"| slot reserved → request at NovelAI, p50 / p90 | {w['reserved_to_upstream_ms_p50']:.1f} / {w['reserved_to_upstream_ms_p90']:.1f} ms |",
            f"| NovelAI's answer → `SUCCESS` stored, p50 / p90 | {w['answer_to_success_ms_p50']:.1f} / {w['answer_to_success_ms_p90']:.1f} ms |",
            f"| peak RSS | {w['peak_rss_mib']:.1f} MiB |",
            f"| the schedule's tick after the drain (empty lanes, a call in the last ten minutes: a whole drain) | {w['idle_drain_ms']:.1f} ms{aws_requests(w['aws_per_idle_drain'])} |"]
    q = r.get("quiet_tick")
    if q:
        out.append(f"| the schedule's tick on a quiet stack (one read, no drain) | "
                   f"{q['latency_ms']:.1f} ms, {q['cpu_ms']:.2f} ms CPU{aws_requests(q['aws'])} |")
    for name, what in [("busy_nudge", "a nudge"), ("busy_tick", "the schedule's tick")]:
        b = r.get(name)
        if b:
            out.append(f"| {what} while another invocation drains (the lease taken: it ends) | "
                       f"{b['latency_ms']:.1f} ms, {b['cpu_ms']:.2f} ms CPU"
                       f"{aws_requests(b['aws'])} |")
    wh = r.get("webhook_jobs")
    if wh:
        out.append(f"| jobs with a webhook: events and nudges per job; the webhooks function's "
                   f"time per job, CPU per job, peak RSS | {wh['events_per_job']:.1f} and "
                   f"{wh['nudges_per_job']:.1f}; {wh['webhooks_ms_per_job']:.1f} ms, "
                   f"{wh['webhooks_cpu_ms_per_job']:.2f} ms, {wh['webhooks_peak_rss_mib']:.1f} MiB |")
    st = r.get("stream_worker")
    if st:
        out.append(f"| V5 jobs through the stream route (previews), CPU per job | "
                   f"{st['cpu_ms_per_job']:.2f} ms ({st['jobs']} in {st['drain_s']:.1f} s) |")
    out += ["", "| worst input to the API | body | answer | latency | peak RSS (idle) |",
            "|---|---|---|---|---|"]
    for x in r["worst_inputs"]:
        out.append(f"| {x['input']} | {x['body_bytes'] / 1e6:.2f} MB | {x['status']} | "
                   f"{x['latency_ms']:.0f} ms | {x['peak_rss_mib']:.1f} MiB ({x['idle_rss_mib']:.1f}) |")
    return "\n".join(out) + "\n\n" + worst_jobs_table(r)


def worst_jobs_table(r):
    out = ["| worst job for the worker (random pixels back) | drain | CPU | peak RSS (idle) |",
           "|---|---|---|---|"]
    for x in r.get("worst_jobs", []):
        out.append(f"| {x['job']} | {x['drain_ms']:.0f} ms | {x['cpu_ms']:.0f} ms | "
                   f"{x['peak_rss_mib']:.1f} MiB ({x['idle_rss_mib']:.1f}) |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--api-bin", default=os.path.join(ROOT, "target/release/naiq-api"))
    p.add_argument("--worker-bin", default=os.path.join(ROOT, "target/release/naiq-worker"))
    p.add_argument("--webhooks-bin", default=os.path.join(ROOT, "target/release/naiq-webhooks"))
    p.add_argument("--requests", type=int, default=200, help="warm requests per route")
    p.add_argument("--jobs-expected", type=int, default=0)
    p.add_argument("--out", default=os.path.join(HERE, "results.json"))
    p.add_argument("--only-worst-jobs", action="store_true",
                   help="measure only the worker's worst jobs (its memory)")
    p.add_argument("--count-aws", action="store_true",
                   help="send every AWS request through the counting proxy")
    args = p.parse_args()
    global COUNTER
    if args.count_aws:
        COUNTER = aws_counter.CountingProxy(os.environ["AWS_ENDPOINT_URL"])
    results = run(args)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    print(markdown(results))


if __name__ == "__main__":
    main()
