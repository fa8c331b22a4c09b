#!/usr/bin/env python3
"""Turns the counted work of `bench/run.sh --count-aws` (bench/counts.json) into dollars per
1,000 jobs at AWS list prices, for 800 jobs a day, with clients that take webhooks and with
clients that poll. Prints the Markdown table docs/cost.md quotes.

    python3 bench/cost.py [bench/counts.json]

Prices: us-east-1 list prices, on-demand, arm64 Lambda (checked 2026-12; change PRICES when
they change). Assumptions are the constants below, each with its reason.
"""

import json
import os
import sys

PRICES = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    "http_api_request": 1.00 / 1e6,
    "dynamodb_write_unit": 0.625 / 1e6,
    "dynamodb_read_unit": 0.125 / 1e6,
    "sqs_fifo_request": 0.50 / 1e6,  # per 64 KiB chunk; naiq's messages are far smaller
    "sqs_standard_request": 0.40 / 1e6,  # the webhook queue is a standard one
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "s3_gb_month": 0.023,
    "secrets_request": 0.05 / 10000,
    "logs_gb_ingested": 0.50,
}

JOBS_PER_DAY = 800
# The schedule invokes the worker (and the webhook function) every minute.
SCHEDULED_PER_DAY = 1440
# A tick drains only when something is due (`worker::tick`): for ten minutes after any call,
# on every tenth minute (housekeeping), and when a waiting job may start before the next
# tick. With 800 jobs a day spread over the default windows (06-09, 12-14 and 19-23 in
# Singapore: 540 minutes), every window minute and the ten after each window drain; of the
# other minutes, one in ten. The rest read the counters once and end (the bench's quiet
# tick). A window minute's tick that finds the worker busy stops at the lease, which costs
# less than the empty drain it is priced at here.
WINDOW_MINUTES = 540
WINDOWS = 3
QUIET_AFTER_MINUTES = 10
HOUSEKEEPING_EVERY_MINUTES = 10
_AFTER_CALLS = WINDOW_MINUTES + WINDOWS * QUIET_AFTER_MINUTES
DRAINING_TICKS_PER_DAY = _AFTER_CALLS + (SCHEDULED_PER_DAY - _AFTER_CALLS) / HOUSEKEEPING_EVERY_MINUTES
QUIET_TICKS_PER_DAY = SCHEDULED_PER_DAY - DRAINING_TICKS_PER_DAY
# Memory the template gives each function (MiB). The API needs it: the largest accepted image
# and mask take it to about 95 MiB. The worker's worst jobs (the largest upscale, answered
# with random pixels) peak at 57 MiB now that an answer is held once (`bench/run.sh
# --only-worst-jobs`; 93 MiB before), so it runs at Lambda's smallest size.
API_MEMORY_MIB = 256
WORKER_MEMORY_MIB = 128
# The webhooks function peaks at 16 MiB (its events are small JSON): Lambda's smallest size.
WEBHOOKS_MEMORY_MIB = 128
# While jobs wait, the worker sleeps in its invocation until the next slot: a busy queue
# bills the mean gap (8-15 s, RATE_LIMIT_*_INTERVAL) for each job.
WORKER_SECONDS_PER_JOB = 11.5
# While a drain runs it holds the lease: 800 jobs a day keep the worker draining for about
# 153 minutes (11.5 s each), and those minutes' ticks find the lease taken and end after the
# read that decided to drain (the bench's busy tick) instead of draining empty lanes.
BUSY_TICKS_PER_DAY = JOBS_PER_DAY * WORKER_SECONDS_PER_JOB / 60
# A polling client asks for the status every poll_after_seconds while its job waits; at
# 800 jobs a day spread over the windows the wait is short: ten polls a job.
POLLS_PER_JOB = 10
# Each image stays in S3 for the bucket's retention (7 days) and is fetched once.
IMAGE_DAYS = 7


# The SQS requests made on the webhook queue, a standard one (the lane queues are FIFO): the
# worker sends to no lane queue (the API queues the jobs), so its SendMessage are the
# webhook events it queues; the webhooks function uses no other queue.
WORKER_STANDARD_SQS = {"sqs:SendMessage"}
ALL_SQS = None


def dollars_of(aws, per, standard_sqs=frozenset()):
    """AWS charges (not Lambda) of counted requests, times `per`, by service. SQS requests
    named in `standard_sqs` (all of them for ALL_SQS) are priced at the standard queue's
    rate, the others at the FIFO rate."""
    if not aws:
        return {}
    req, units, sent = aws["requests"], aws["dynamodb_units"], aws["sent"]

    def sqs_price(op):
        standard = standard_sqs is ALL_SQS or op in standard_sqs
        return PRICES["sqs_standard_request" if standard else "sqs_fifo_request"]

    parts = {
        "DynamoDB": units.get("write", 0) * PRICES["dynamodb_write_unit"]
        + units.get("read", 0) * PRICES["dynamodb_read_unit"],
        "SQS": sum(n * sqs_price(k) for k, n in req.items() if k.startswith("sqs:")),
        "S3 requests": sum(n for k, n in req.items() if k.startswith("s3:PUT"))
        * PRICES["s3_put"]
        + sum(n for k, n in req.items() if k.startswith("s3:GET") or k.startswith("s3:HEAD"))
        * PRICES["s3_get"],
        "Secrets Manager": sum(n for k, n in req.items() if k.startswith("secretsmanager:"))
        * PRICES["secrets_request"],
    }
    stored = sum(n for k, n in sent.items() if k == "s3:PUT object")
    parts["S3 storage"] = stored / 1e9 * PRICES["s3_gb_month"] * IMAGE_DAYS / 30
    return {k: v * per for k, v in parts.items()}


def minus(a, b):
    """Counts `a` less counts `b`, part by part (none below zero)."""
    return {part: {k: max(0.0, v - b.get(part, {}).get(k, 0)) for k, v in values.items()}
            for part, values in a.items()}


def plus(a, b):
    """Counts `a` and `b` added, part by part."""
    return {part: {k: a.get(part, {}).get(k, 0) + b.get(part, {}).get(k, 0)
                   for k in set(a.get(part, {})) | set(b.get(part, {}))}
            for part in set(a) | set(b)}


def lambda_dollars(seconds, memory_mib, per):
    gb_s = seconds * memory_mib / 1024
    return (gb_s * PRICES["lambda_gb_second_arm64"] + PRICES["lambda_request"]) * per


def route(r, name):
    return next(a for a in r["api"] if a["route"] == name)


def model(r, polling, job="worker"):
    """Dollars per 1,000 jobs, by term. `job` names the worker's counts per job: `worker`
    (the seed's V3 example, the plain route) or `stream_worker` (V5, the default model,
    through the stream route with its step previews)."""
    submit = route(r, "POST /generate")
    status = route(r, "GET /task_status (waiting)")
    hooked = None if polling else r.get("webhook_jobs")
    w = dict(r["worker"], **{k: r[job][k] for k in ("aws_per_job", "log_bytes_per_job")})
    if hooked:
        # A client that takes webhooks: in the worker, what a job with a webhook counts
        # beyond one without (each event queued, the webhooks function nudged); the
        # function's deliveries below.
        w["aws_per_job"] = plus(w["aws_per_job"],
                                minus(hooked["aws_per_job"], r["worker"]["aws_per_job"]))
        w["log_bytes_per_job"] += hooked["log_bytes_per_job"] - r["worker"]["log_bytes_per_job"]
    per_job = 1000
    quiet = r.get("quiet_tick")
    draining_ticks = DRAINING_TICKS_PER_DAY if quiet else SCHEDULED_PER_DAY
    busy_tick = r.get("busy_tick")
    if busy_tick:
        draining_ticks -= BUSY_TICKS_PER_DAY
    busy_ticks_per_1000 = BUSY_TICKS_PER_DAY / JOBS_PER_DAY * 1000
    idle_per_1000 = draining_ticks / JOBS_PER_DAY * 1000
    quiet_per_1000 = QUIET_TICKS_PER_DAY / JOBS_PER_DAY * 1000
    terms = {}

    def add(name, dollars):
        terms[name] = terms.get(name, 0.0) + dollars

    def add_aws(counted, per, label, standard_sqs=frozenset()):
        """The AWS charges of `counted` requests, `per` times, a term per service."""
        for service, dollars in dollars_of(counted, per, standard_sqs).items():
            add(f"{service} ({label})", dollars)

    add("API Gateway requests", PRICES["http_api_request"] * per_job)
    add("API Lambda", lambda_dollars(submit["p50_ms"] / 1000, API_MEMORY_MIB, per_job))
    add_aws(submit["aws_per_request"], per_job, "submit")
    add("worker Lambda (sleeping to the next slot)",
        lambda_dollars(WORKER_SECONDS_PER_JOB, WORKER_MEMORY_MIB, per_job))
    add_aws(w["aws_per_job"], per_job, "worker", WORKER_STANDARD_SQS)
    add("worker Lambda (scheduled, draining empty lanes)",
        lambda_dollars(w["idle_drain_ms"] / 1000, WORKER_MEMORY_MIB, idle_per_1000))
    add_aws(w["aws_per_idle_drain"], idle_per_1000, "scheduled worker, draining empty lanes")
    if quiet:
        add("worker Lambda (scheduled, quiet)",
            lambda_dollars(quiet["latency_ms"] / 1000, WORKER_MEMORY_MIB, quiet_per_1000))
        add_aws(quiet["aws"], quiet_per_1000, "scheduled worker, quiet")
    if busy_tick:
        add("worker Lambda (scheduled, a drain running)",
            lambda_dollars(busy_tick["latency_ms"] / 1000, WORKER_MEMORY_MIB, busy_ticks_per_1000))
        add_aws(busy_tick["aws"], busy_ticks_per_1000, "scheduled worker, a drain running")
    busy = r.get("busy_nudge")
    if busy:
        # Every submit nudges the worker. While a drain holds the lease (most of a busy
        # window) the nudged invocation finds it taken and ends: priced here for every job,
        # an upper bound (a nudge that finds the worker idle starts the drain instead).
        add("worker Lambda (nudged while a drain runs)",
            lambda_dollars(busy["latency_ms"] / 1000, WORKER_MEMORY_MIB, per_job))
        add_aws(busy["aws"], per_job, "worker nudged while a drain runs")
    if hooked:
        # Each nudge is one invocation of the webhooks function: the delivery work measured
        # in one drain of every event, plus, per invocation, what one with nothing left to
        # deliver costs (its last, empty receive).
        n = hooked["nudges_per_job"]
        seconds = hooked["webhooks_ms_per_job"] / 1000 + n * hooked["webhooks_idle_ms"] / 1000
        add("webhooks function Lambda (deliveries)",
            lambda_dollars(seconds / n, WEBHOOKS_MEMORY_MIB, per_job * n))
        add_aws(hooked["webhooks_aws_per_job"], per_job, "webhook deliveries", ALL_SQS)
        add_aws(hooked["webhooks_aws_per_idle"], per_job * n, "webhook deliveries", ALL_SQS)
    if r.get("webhook_jobs"):
        # Its schedule ticks every minute, webhooks or not.
        idle = r["webhook_jobs"]
        ticks = SCHEDULED_PER_DAY / JOBS_PER_DAY * 1000
        add("webhooks function Lambda (scheduled, idle)",
            lambda_dollars(idle["webhooks_idle_ms"] / 1000, WEBHOOKS_MEMORY_MIB, ticks))
        add_aws(idle["webhooks_aws_per_idle"], ticks, "webhooks function, scheduled, idle",
                ALL_SQS)
    logs = (submit["log_bytes_per_request"] + w["log_bytes_per_job"]) * per_job
    if polling:
        n = POLLS_PER_JOB * per_job
        add("API Gateway requests (polls)", PRICES["http_api_request"] * n)
        add("API Lambda (polls)", lambda_dollars(status["p50_ms"] / 1000, API_MEMORY_MIB, n))
        add_aws(status["aws_per_request"], n, "polls")
        logs += status["log_bytes_per_request"] * n
    add("CloudWatch Logs", logs / 1e9 * PRICES["logs_gb_ingested"])
    return {k: v for k, v in terms.items() if v > 0}


def counted_lines(r):
    submit = route(r, "POST /generate")
    status = route(r, "GET /task_status (waiting)")
    w = r["worker"]
    out = ["| counted per | AWS requests | DynamoDB units (read / write) | log bytes |",
           "|---|---|---|---|"]
    for name, aws, logs in [
        ("submit (`POST /generate`)", submit["aws_per_request"], submit["log_bytes_per_request"]),
        ("poll (`GET /task_status`, waiting)", status["aws_per_request"],
         status["log_bytes_per_request"]),
        ("job, in the worker (V3, the seed's example)", w["aws_per_job"],
         w["log_bytes_per_job"]),
        ("job with a webhook, in the worker (V3; its events queued, the webhooks function "
         "nudged)", r.get("webhook_jobs", {}).get("aws_per_job"),
         r.get("webhook_jobs", {}).get("log_bytes_per_job", 0)),
        ("job with a webhook, in the webhooks function (its events signed, POSTed, "
         "recorded)", r.get("webhook_jobs", {}).get("webhooks_aws_per_job"), 0),
        ("webhooks function invocation with nothing to deliver",
         r.get("webhook_jobs", {}).get("webhooks_aws_per_idle"), 0),
        ("job, in the worker (V5 through the stream route, with previews)",
         r.get("stream_worker", {}).get("aws_per_job"),
         r.get("stream_worker", {}).get("log_bytes_per_job", 0)),
        ("scheduled tick draining empty lanes (a call in the last ten minutes, or a "
         "housekeeping minute)", w["aws_per_idle_drain"], 0),
        ("scheduled tick with nothing due (one read, no drain)",
         r.get("quiet_tick", {}).get("aws"), 0),
        ("a submit's nudge while a drain runs (the lease taken)",
         r.get("busy_nudge", {}).get("aws"), 0),
        ("a scheduled tick while a drain runs (its read, the lease taken)",
         r.get("busy_tick", {}).get("aws"), 0),
    ]:
        if aws is None:
            continue
        reqs = ", ".join(f"{k} {v:.2f}" for k, v in sorted(aws["requests"].items()))
        u = aws["dynamodb_units"]
        out.append(f"| {name} | {reqs} | {u.get('read', 0):.2f} / {u.get('write', 0):.2f} | "
                   f"{logs:.0f} |")
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "counts.json")
    r = json.load(open(path))
    print("\n".join(counted_lines(r)))
    print()
    hooks, polls = model(r, False), model(r, True)
    print("| term | webhooks, $ per 1,000 jobs | polling, $ per 1,000 jobs |")
    print("|---|---|---|")
    terms = set(hooks) | set(polls)
    for k in sorted(terms, key=lambda k: -max(hooks.get(k, 0), polls.get(k, 0))):
        print(f"| {k} | {hooks.get(k, 0):.4f} | {polls.get(k, 0):.4f} |")
    print(f"| **total** | **{sum(hooks.values()):.4f}** | **{sum(polls.values()):.4f}** |")
    print()
    print(f"Largest term with webhooks: {max(hooks, key=hooks.get)}; "
          f"with polling: {max(polls, key=polls.get)}.")
    if "stream_worker" in r:
        v5h, v5p = model(r, False, "stream_worker"), model(r, True, "stream_worker")
        print()
        print("V5 jobs (the default model, streamed with step previews): the worker's terms")
        print()
        print("| term | webhooks, $ per 1,000 jobs | polling, $ per 1,000 jobs |")
        print("|---|---|---|")
        for k in sorted(v5p, key=lambda k: -v5p[k]):
            if k.endswith("(worker)"):
                print(f"| {k} | {v5h.get(k, 0):.4f} | {v5p.get(k, 0):.4f} |")
        print(f"| **total, every term** | **{sum(v5h.values()):.4f}** | "
              f"**{sum(v5p.values()):.4f}** |")


if __name__ == "__main__":
    main()
