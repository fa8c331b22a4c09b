#!/usr/bin/env python3
"""Checks a chaos run (what localstack/chaos.py wrote, and the stack's log files) against
naiq's promises, prints the table, and exits 1 on any violation:

  - every job is finished (SUCCESS, FAILURE, REVOKED) or waiting with a valid reason: the
    day's quota is spent; its lane is held by a message in flight after an interruption
    (a kill, a backend error logged with the task's id, or an injected receive whose answer
    was lost) less than the queue's visibility
    timeout ago; or its message waits visible while the worker was still calling NovelAI
    when the run ended;
  - every generation at the fake belongs to a job (the token in its prompt) and no job has
    more generations than its recorded attempts;
  - no attempt is paid twice: at most one generation of a job answered with images, but
    for an answer lost to a kill within STORE_WINDOW of it (before the one write that
    stores it could be made) when the job counts that attempt as `interrupted`;
  - the daily limit holds, at the fake and in naiq's own count, and every call was counted;
  - never two calls in flight (nor a 429 from the fake's own concurrency lock), and each
    call of a non-test job starts at least RATE_LIMIT_MIN_INTERVAL after the start of the
    call before it, or COOLDOWN_MIN after its end when that call failed (the pacing rules of
    the architecture; test jobs ignore the interval and the cooldown);
  - no credential (the API key, the NovelAI token, the login password) in any log line.

  python3 localstack/chaos_check.py RUN.json
"""

import json
import os
import re
import sys
from collections import Counter
from datetime import datetime, timedelta, timezone

TERMINAL = {"SUCCESS", "FAILURE", "REVOKED"}
# The plain route and the stream route (V4/V4.5/V5 text-to-image jobs stream).
GENERATE = ("/ai/generate-image", "/ai/generate-image-stream")
TOKEN = re.compile(r"ctok[0-9a-f]{10}")
# Fake timestamps are milliseconds: allow their rounding, nothing more.
TOLERANCE = 0.002
# A worker that called NovelAI this recently was still draining.
DRAINING = 15.0


def parse_ts(s):
    if not s:
        return None
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def local_day(epoch, tz_name):
    try:
        from zoneinfo import ZoneInfo
        tz = ZoneInfo(tz_name)
    except Exception:  # no tz database: Singapore has no DST
        tz = timezone(timedelta(hours=8))
    return datetime.fromtimestamp(epoch, tz).date().isoformat()


def calls_of(run):
    """The generations at the fake, oldest first, each with the job token of its prompt."""
    calls = []
    for r in run["fake_requests"]:
        if r.get("path") not in GENERATE:
            continue
        tokens = set(TOKEN.findall(json.dumps(r.get("body"))))
        calls.append({
            "received": parse_ts(r["received_at"]),
            "finished": parse_ts(r.get("finished_at")),
            "status": r.get("status", 0),
            "fault": r.get("fault"),
            "token": tokens.pop() if len(tokens) == 1 else None,
            "tokens": len(tokens),
        })
    calls.sort(key=lambda c: c["received"])
    return calls


def settings(run):
    env = run.get("env") or {}

    def num(name, default):
        v = env.get(name)
        return float(v) if v not in (None, "") else default

    return {
        "interval_min": num("RATE_LIMIT_MIN_INTERVAL", 8.0),
        "cooldown_min": num("COOLDOWN_MIN", 5.0),
        "daily_limit": int(num("RATE_LIMIT_DAILY", 800)),
        "max_attempts": int(num("MAX_ATTEMPTS", 3)),
        "timeout": num("NOVELAI_TIMEOUT_SECONDS", 120.0),
        "timezone": env.get("PACING_TIMEZONE") or "Asia/Singapore",
    }


def is_paid(call):
    """The fake answered with images (and charged for them)."""
    return call["status"] == 200 and not call["fault"]


def failed(call):
    """naiq saw this call fail (an error status, a broken zip, or no answer in time)."""
    return call["finished"] is None or call["status"] != 200 or bool(call["fault"])


def log_events(log_dir):
    """(file name, line number, text, parsed JSON or None, byte offset of the line's end) of
    every line of every log."""
    out = []
    if not log_dir or not os.path.isdir(log_dir):
        return out
    for name in sorted(os.listdir(log_dir)):
        path = os.path.join(log_dir, name)
        if not os.path.isfile(path):
            continue
        offset = 0
        with open(path, "rb") as f:
            for i, raw in enumerate(f, 1):
                offset += len(raw)
                line = raw.decode(errors="replace")
                start = line.find("{")
                parsed = None
                if start >= 0:
                    try:
                        parsed = json.loads(line[start:])
                    except ValueError:
                        parsed = None
                out.append((name, i, line, parsed, offset))
    return out


# What the worker logs when it is done with a job (for now): after one of these, no job is
# in its hands.
OUTCOMES = ("job succeeded", "job failed", "will retry", "skipping", "dropping",
            "could not handle the job", "job already finished")


# The worker's lines outside a job's span that still say it was done with (or never took)
# a job: the outcome of a job that failed in the backend, a held head given back.
WORKER_OUTSIDE_SPAN = ("could not handle the job", "could not release a held job",
                       "could not keep a held job hidden")


def worker_events(events):
    """The worker's log events that name a task: (offset, task id, message, level).

    A line inside a job's span (the drain runs each job in one) names that job; outside
    one, only the worker's own lines in WORKER_OUTSIDE_SPAN do. The API's lines ("job
    accepted", in the same log) are left out: they say nothing of what the worker had in
    hand."""
    out = []
    for name, _, _, ev, offset in events:
        if name != "watch.log" or not isinstance(ev, dict):
            continue
        f = fields(ev)
        message = f.get("message") or ""
        spans = ev.get("spans") if isinstance(ev.get("spans"), list) else []
        job = next((s.get("task_id") for s in spans
                    if isinstance(s, dict) and s.get("name") == "job" and s.get("task_id")), None)
        if job is None and f.get("task_id") and message.startswith(WORKER_OUTSIDE_SPAN):
            job = f["task_id"]
        if job:
            out.append((offset, job, message, ev.get("level")))
    return out


def task_named(ev):
    """The task a log event names, in its fields or its job span's; None if none."""
    if not isinstance(ev, dict):
        return None
    spans = ev.get("spans") if isinstance(ev.get("spans"), list) else []
    return fields(ev).get("task_id") or next(
        (s["task_id"] for s in spans if isinstance(s, dict) and s.get("task_id")), None)


def time_at(marks, offset):
    """When the function log reached `offset` (the first poll that saw it that long)."""
    for t, size in marks or []:
        if size >= offset:
            return t
    return None


def fields(ev):
    return ev.get("fields", {}) if isinstance(ev, dict) else {}


def event_time(ev):
    t = ev.get("timestamp") if isinstance(ev, dict) else None
    if not t:
        return None
    t = t.rstrip("Z")
    if "." in t:
        head, frac = t.split(".", 1)
        t = f"{head}.{frac[:6]}"
    else:
        t += ".0"
    try:
        return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        return None


# How long after NovelAI's answer a kill can still lose it: receiving the body and the
# one S3 put of the answer (shared/core/src/worker/answer.rs).
STORE_WINDOW = 1.0

# How long a ghost job may wait for the reaper: its grace (10 min) plus the reaper's
# period (5 min), as shared/core/src/worker/reaper.rs sets them.
REAPER_WAIT = 15 * 60


def iso_seconds(text, default):
    """An RFC 3339 time of a status answer as epoch seconds, else `default`."""
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, ValueError):
        return default


def created_at(final, default):
    """A job's creation time (epoch seconds) from its status answer, else `default`."""
    return iso_seconds(final.get("created_at"), default)


def check(run, events):
    """(violations, table) of a run."""
    cfg = settings(run)
    calls = calls_of(run)
    jobs = run["jobs"]
    # One token per submit; a submit retried after a failure may have left a job of its own.
    by_token = {}
    for j in jobs:
        by_token.setdefault(j["token"], []).append(j)
    kills = list(run.get("kills") or [])
    if run.get("final_kill"):
        kills.append(run["final_kill"])
    kill_times = sorted(k["at"] for k in kills)
    ended = run["ended_at"]
    violations = []

    def violation(kind, text):
        violations.append((kind, text))

    # Calls per submit (its token); unmapped calls.
    per_token = {}
    for c in calls:
        if c["token"] not in by_token:
            violation("call_without_job",
                      f"a generation at {c['received']:.3f} carries no known job token "
                      f"({c['tokens']} tokens)")
            continue
        per_token.setdefault(c["token"], []).append(c)

    lost_before_stored = 0

    def kills_between(a, b):
        return [k for k in kills if a <= k["at"] <= b]

    for token, mine_jobs in by_token.items():
        mine = per_token.get(token, [])
        finals = [j.get("final") or {} for j in mine_jobs]
        attempts = sum(int(f.get("attempts") or 0) for f in finals)
        ids = ", ".join(j["task_id"] for j in mine_jobs)
        j = mine_jobs[0]
        if len(mine) > attempts:
            violation("call_without_attempt",
                      f"task {ids} ({j['lane']}, {j['auth_type']} credentials): "
                      f"{len(mine)} generations at the fake, {attempts} attempts recorded; "
                      f"statuses {[c['status'] for c in mine]}, faults {[c['fault'] for c in mine]}")
        paid = [c for c in mine if is_paid(c)]
        interrupted = any(e.get("code") == "interrupted"
                          for f in finals for e in (f.get("attempt_errors") or []))
        # A kill in the moment between NovelAI's answer and the one write that stores it
        # loses that answer: the attempt is counted `interrupted` and the next attempt is
        # a new call. That is a second attempt, not one attempt paid twice; any other
        # second payment is a violation.
        lost = [a for a, b in zip(paid, paid[1:])
                if interrupted and any(abs(k["at"] - (a["finished"] or a["received"])) <= STORE_WINDOW
                                       for k in kills_between(a["received"] - STORE_WINDOW,
                                                              b["received"]))]
        lost_before_stored += len(lost)
        if len(paid) - len(lost) > 1:
            first = paid[0]
            between = kills_between(first["received"], paid[1]["received"])
            evidence = ", ".join(
                f"kill -9 ({k['mode']}) {k['at'] - (first['finished'] or first['received']):+.2f}s "
                f"after the first answer" for k in between) or "no kill in between"
            at = ", ".join("%.2fs" % (c["received"] - run["started_at"]) for c in paid)
            violation("paid_twice",
                      f"task {ids} ({j['lane']}): {len(paid)} generations answered with "
                      f"images (at {at} into the run), final status "
                      f"{[f.get('status') for f in finals]}, attempts {attempts}; {evidence}")
        for jj, f in zip(mine_jobs, finals):
            if f.get("status") == "SUCCESS" and not paid:
                violation("success_without_answer",
                          f"task {jj['task_id']} is SUCCESS but the fake never answered it with images")

    # The daily limit, at the fake and in naiq's count.
    per_day = Counter(local_day(c["received"], cfg["timezone"]) for c in calls)
    for day, n in per_day.items():
        if n > cfg["daily_limit"]:
            violation("daily_limit", f"{n} generations on {day} ({cfg['timezone']}), "
                                     f"over the limit of {cfg['daily_limit']}")
    rl = (run.get("rate_limit") or {}).get("rate_limit_info") or {}
    today = local_day(ended, cfg["timezone"])
    counted = rl.get("requests_today")
    if isinstance(counted, int):
        if counted > cfg["daily_limit"]:
            violation("daily_limit", f"naiq counts {counted} calls today, over {cfg['daily_limit']}")
        if per_day.get(today, 0) > counted:
            violation("call_uncounted", f"{per_day.get(today, 0)} generations at the fake today, "
                                        f"naiq counted {counted} slots")

    # Single flight and the gaps.
    def end_of(c):
        """When naiq was done with a call: its answer, or its timeout, or the kill of its worker."""
        if c["finished"] is not None:
            return c["finished"]
        end = c["received"] + cfg["timeout"]
        after = [t for t in kill_times if t >= c["received"]]
        return min([end] + after[:1])

    lane_of = {t: js[0]["lane"] for t, js in by_token.items()}
    for c in calls:
        if c["status"] == 429 and not c["fault"]:
            violation("two_in_flight",
                      f"the fake's concurrency lock refused a generation at {c['received']:.3f}")
    open_until = None
    for p, c in zip(calls, calls[1:]):
        open_until = max(open_until or 0, end_of(p))
        if c["received"] < open_until - TOLERANCE:
            violation("two_in_flight",
                      f"a generation started {open_until - c['received']:.3f}s before an "
                      f"earlier one ended")
        if lane_of.get(c["token"]) == "test":
            continue
        gap = c["received"] - p["received"]
        killed = kills_between(p["received"], end_of(p) + 1.0)
        if failed(p) and not killed:
            if p["finished"] is not None:
                since = c["received"] - p["finished"]
            else:  # no answer: naiq gave up at its timeout, measured from before the send
                since = c["received"] - (p["received"] + cfg["timeout"]) + 0.1
            if since < cfg["cooldown_min"] - TOLERANCE:
                violation("gap", f"a call {since:.3f}s after a failed call ended "
                                 f"(status {p['status']}, fault {p['fault']}); cooldown minimum "
                                 f"{cfg['cooldown_min']}s")
        elif gap < cfg["interval_min"] - TOLERANCE:
            violation("gap", f"calls {gap:.3f}s apart (start to start), minimum "
                             f"{cfg['interval_min']}s (previous status {p['status']}, fault "
                             f"{p['fault']})")

    for k in run.get("kills") or []:
        if k.get("back_after_s") is None:
            violation("worker_not_back",
                      f"no new worker process after the kill -9 ({k['mode']}) at "
                      f"{k['at'] - run['started_at']:.1f}s into the run")

    # Interruptions that can leave a lane's message in flight (hidden for the visibility
    # timeout), each tied to the lanes it can hold: a backend error logged with a task's id
    # (its lane); a kill while a job was in the worker's hands (its lane), or between two
    # jobs' log lines (any lane with a job not yet named in the log: it may have just been
    # received).
    lane_by_task = {j["task_id"]: j["lane"] for j in jobs}
    named = worker_events(events)
    marks = run.get("log_marks")
    holds = {}  # lane -> [(time, why)]
    for name, _, _, ev, offset in events:
        task = task_named(ev)
        if name == "watch.log" and task in lane_by_task and ev.get("level") == "ERROR":
            t = time_at(marks, offset) or ended
            holds.setdefault(lane_by_task[task], []).append(
                (t, f"a backend error on task {task}"))
        f = fields(ev)
        if (name == "watch.log" and f.get("operation") == "queue.receive"
                and f.get("injected_fault") == "timeout_after_call"):
            # A receive that took a message whose answer was lost: that message is hidden
            # for the visibility timeout, from a lane the log does not name (any lane with
            # a job still waiting).
            t = time_at(marks, offset) or ended
            for lane in {j["lane"] for j in jobs
                         if (j.get("final") or {}).get("status") not in TERMINAL}:
                holds.setdefault(lane, []).append((t, "a receive whose answer was lost"))
    for k in kills:
        before = [e for e in named if e[0] <= k.get("log_offset", 0)]
        last = before[-1] if before else None
        if last and not any(o in last[2] for o in OUTCOMES) and last[1] in lane_by_task:
            holds.setdefault(lane_by_task[last[1]], []).append(
                (k["at"], f"kill -9 ({k['mode']}) with task {last[1]} in hand"))
        else:
            seen = {e[1] for e in before}
            for j in jobs:
                if j["task_id"] not in seen and (j.get("final") or {}).get("status") not in TERMINAL:
                    holds.setdefault(j["lane"], []).append(
                        (k["at"], f"kill -9 ({k['mode']}) between two jobs"))

    # A job left `STARTED` was in a worker's hands: a kill after its start (the worker marks
    # it before the call) holds its lane, whatever the log shows of the moment (a killed
    # worker's last lines can miss the log).
    for j in jobs:
        final = j.get("final") or {}
        started = iso_seconds(final.get("started_at"), None)
        if final.get("status") != "STARTED" or started is None:
            continue
        for k in kills:
            if started <= k["at"]:
                holds.setdefault(j["lane"], []).append(
                    (k["at"], f"kill -9 ({k['mode']}) after task {j['task_id']} started"))

    # Waiting jobs and their reasons.
    lanes = run.get("lanes") or {}
    vt = run.get("visibility_timeout") or 0
    quota_spent = per_day.get(today, 0) >= cfg["daily_limit"] or rl.get("remaining") == 0
    last_call = max((c["received"] for c in calls), default=0)
    waiting = {}
    for j in jobs:
        final = j.get("final") or {}
        if final.get("status") not in TERMINAL:
            waiting.setdefault(j["lane"], []).append(j)
    reasons = Counter()
    for lane, queued in waiting.items():
        counts = lanes.get(lane, {"visible": 0, "not_visible": 0})
        held = sorted(h for h in holds.get(lane, []) if ended - h[0] < vt)
        for j in queued:
            final = j["final"]
            status = final.get("status")
            attempts = int(final.get("attempts") or 0)
            if status == "UNREADABLE":
                violation("job_unreadable", f"task {j['task_id']}: no status could be read")
                continue
            if status == "RETRY" and attempts >= cfg["max_attempts"]:
                violation("job_waiting", f"task {j['task_id']} is RETRY with no attempt left")
                continue
            if quota_spent:
                reasons["quota spent"] += 1
            elif counts["not_visible"] > 0 and held:
                why = held[0][1]
                kind = ("a kill -9" if why.startswith("kill") else
                        why if why.startswith("a receive") else "a backend error")
                reasons[f"lane {lane} held by a message in flight (visibility {vt}s) after "
                        f"{kind}"] += 1
            elif counts["visible"] > 0 and ended - last_call < DRAINING:
                reasons["queued while the worker was still draining"] += 1
            elif lanes.get("dead_letter", {}).get("visible", 0) > 0:
                reasons["in the dead-letter queue, awaiting the sweep"] += 1
            elif (j.get("unanswered_submit") and status == "PENDING" and attempts == 0
                  and counts["visible"] + counts["not_visible"] == 0
                  and ended - created_at(final, ended) < REAPER_WAIT):
                # Written, then the send and the failure write both failed (injected): a
                # ghost with no message, which the reaper fails as `message_lost` once its
                # grace is over (shared/core/src/worker/reaper.rs).
                reasons["no message after a failed submit; the reaper fails it later"] += 1
            else:
                violation("job_waiting",
                          f"task {j['task_id']} ({lane}) is {status} with {attempts} attempts and "
                          f"no valid reason to wait: lane {counts}, last call "
                          f"{ended - last_call:.0f}s before the end, interruptions that can hold "
                          f"its lane {len(held)}")

    # Credentials in the logs.
    secrets = [s for s in run.get("secrets") or [] if s and len(s) >= 8]
    for name, line_no, text, ev, _ in events:
        for s in secrets:
            if s in text:
                violation("credential_in_log",
                          f"{name}:{line_no} holds a credential ({s[:4]}…, {len(s)} characters)")

    # The table.
    statuses = Counter((j.get("final") or {}).get("status") for j in jobs)
    fake_faults = Counter(c["fault"] for c in calls if c["fault"])
    adapter_faults = Counter()
    for name, line_no, text, ev, _ in events:
        f = fields(ev)
        if f.get("injected_fault"):
            adapter_faults[f"{f.get('service')} {f['injected_fault']}"] += 1
    kill_modes = Counter(k["mode"] for k in kills)
    table = {
        "jobs": len(jobs),
        "jobs by lane": dict(Counter(j["lane"] for j in jobs)),
        "jobs by final status": dict(statuses),
        "waiting, by reason": dict(reasons),
        "submits that failed": len(run.get("submit_failures") or []),
        "faults injected at the fake": dict(fake_faults),
        "faults injected in the adapters": dict(adapter_faults),
        "kills (kill -9 of the worker)": dict(kill_modes),
        "worker back after a kill (s, max)": max(
            (k.get("back_after_s") or 0 for k in run.get("kills") or []), default=0),
        "attempts (recorded)": sum(int((j.get("final") or {}).get("attempts") or 0) for j in jobs),
        "upstream calls (at the fake)": len(calls),
        "answered with images": sum(1 for c in calls if is_paid(c)),
        "answers lost to a kill before they were stored": lost_before_stored,
        "violations": dict(Counter(k for k, _ in violations)),
        "run time (s)": round(ended - run["started_at"], 1),
    }
    return violations, table


def render(table):
    width = max(len(k) for k in table)
    lines = [f"| {'what'.ljust(width)} | figure |", f"|{'-' * (width + 2)}|--------|"]
    for k, v in table.items():
        if isinstance(v, dict):
            v = ", ".join(f"{a}: {b}" for a, b in sorted(v.items(), key=lambda x: str(x[0]))) or "0"
        lines.append(f"| {k.ljust(width)} | {v} |")
    return "\n".join(lines)


def context(run, events, violations, most=3):
    """Lines that help read a failed run without its logs (a CI run keeps only the
    output): each kill with the worker's last lines before it, and the worker's lines of
    up to `most` waiting tasks found in violation."""
    named = worker_events(events)
    lines = []
    kills = list(run.get("kills") or []) + ([run["final_kill"]] if run.get("final_kill") else [])
    for k in kills:
        before = [e for e in named if e[0] <= k.get("log_offset", 0)][-3:]
        lines.append(f"kill -9 ({k['mode']}) at {k['at'] - run['started_at']:.1f}s, log offset "
                     f"{k.get('log_offset')}: last worker lines "
                     + "; ".join(f"{t[:8]} {m!r}" for _, t, m, _ in before))
    tasks = []
    for kind, text in violations:
        m = re.search(r"task ([0-9a-f-]{36})", text)
        if kind == "job_waiting" and m and m.group(1) not in tasks:
            tasks.append(m.group(1))
    jobs = {j["task_id"]: j for j in run["jobs"]}
    for task in tasks[:most]:
        final = (jobs.get(task) or {}).get("final") or {}
        mine = [f"@{o} {lvl} {m!r}" for o, t, m, lvl in named if t == task]
        lines.append(f"task {task}: started_at {final.get('started_at')}, attempt errors "
                     f"{[e.get('code') for e in final.get('attempt_errors') or []]}; worker lines "
                     + ("; ".join(mine[-8:]) or "none"))
    return lines


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1]) as f:
        run = json.load(f)
    events = log_events(run.get("log_dir"))
    violations, table = check(run, events)
    print(render(table))
    for kind, text in violations:
        print(f"VIOLATION {kind}: {text}")
    if violations:
        for line in context(run, events, violations):
            print(f"context: {line}")
        print(f"chaos_check: {len(violations)} violations", file=sys.stderr)
        sys.exit(1)
    print("chaos_check: every invariant holds", file=sys.stderr)


if __name__ == "__main__":
    main()
