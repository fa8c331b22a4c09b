#!/usr/bin/env python3
"""The chaos run's driver (localstack/chaos.sh starts the stack and calls it).

Against a running local stack (its localstack/.run/stack.env in the environment) it:
  - turns on the fake NovelAI's random faults (every kind it knows),
  - submits jobs in every lane (test, high, normal, low; some with per-request token or
    email/password credentials), each with a token unique to it in its prompt and a seed
    of its own, retrying a failed submit with the same Idempotency-Key,
  - kills the worker's process with SIGKILL at random points while it drains (at a random
    moment, while a generation is in flight at the fake, just after the fake answered one),
    then starts its runtime again as Lambda starts a new sandbox (`cargo lambda watch`
    keeps a dead instance in its pool and never starts another: the watch process is
    stopped and started again with its own command line and environment), and waits for a
    new worker process to come up on the relay's next invoke,
  - ends the fake's faults at --fault-until (unix seconds: the `until` of the adapters'
    NAIQ_FAULTS), then lets the stack settle until every job is finished or --budget ends,
  - stops the relay and the worker (so nothing changes while it reads), and writes what
    it saw to --out: the jobs (GET /task_status), the fake's request log, the kills, the
    lanes' message counts (SQS), the pacing status, for localstack/chaos_check.py.

Only processes of this stack are signalled, by their id: the worker is found among the
descendants of the `cargo lambda watch` process listed in localstack/.run/pids.
"""

import argparse
from collections import Counter
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.parse

LANES = ["test", "high", "normal", "low"]
# The generation routes at the fake: plain, and the stream V4/V4.5/V5 text-to-image uses.
GENERATE_PATHS = ("/ai/generate-image", "/ai/generate-image-stream")


def log(msg):
    print(f"chaos.py [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def request(base, method, path, body=None, headers=None, timeout=15):
    """(status, parsed JSON or text, headers) of one HTTP call; status 0 on a network error."""
    url = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    data = None if body is None else json.dumps(body).encode()
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    try:
        conn.request(method, url.path.rstrip("/") + path, body=data, headers=h)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed, dict(resp.getheaders())
    except (OSError, http.client.HTTPException) as e:
        return 0, str(e), {}
    finally:
        conn.close()


class Stack:
    def __init__(self, env, run_dir):
        self.api = env["NAIQ_API_URL"]
        self.key = env["NAIQ_API_KEY"]
        self.fake = env["NAIQ_FAKE_NOVELAI_URL"]
        self.fake_token = env["NAIQ_FAKE_NOVELAI_TOKEN"]
        self.run_dir = run_dir

    def auth(self):
        return {"Authorization": f"Bearer {self.key}"}

    def fake_log(self):
        status, body, _ = request(self.fake, "GET", "/_fake/requests")
        return body if status == 200 and isinstance(body, list) else None

    def pids(self):
        out = {}
        with open(os.path.join(self.run_dir, "pids")) as f:
            for line in f:
                pid, name = line.split()
                out[name] = int(pid)
        return out


def descendants(root):
    """Every process below `root`, as {pid: (ppid, exe basename)}."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            exe = os.path.basename(os.readlink(f"/proc/{entry}/exe"))
        except (OSError, ValueError):
            continue
        table[int(entry)] = (ppid, exe)
    found, frontier = {}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, exe) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = exe
                frontier.append(pid)
    return found


def worker_pid(watch_pid):
    """The worker function's process under `cargo lambda watch`, if one runs."""
    pids = [p for p, exe in descendants(watch_pid).items() if exe == "naiq-worker"]
    return max(pids) if pids else None


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def restart_watch(stack, old):
    """Stops the `cargo lambda watch` process group `old` and starts it again as it was
    (command line, environment, directory, log), recording the new id in .run/pids."""
    with open(f"/proc/{old}/cmdline", "rb") as f:
        cmd = [a.decode() for a in f.read().split(b"\0") if a]
    with open(f"/proc/{old}/environ", "rb") as f:
        env = dict(kv.decode(errors="replace").split("=", 1)
                   for kv in f.read().split(b"\0") if b"=" in kv)
    cwd = os.readlink(f"/proc/{old}/cwd")
    below = list(descendants(old))
    try:
        os.killpg(old, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.time() + 5
    while time.time() < deadline and (alive(old) or any(alive(p) for p in below)):
        time.sleep(0.1)
    for pid in [old] + below:
        if alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    logf = open(os.path.join(stack.run_dir, "logs", "watch.log"), "ab")
    new = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=logf,
                           stderr=logf, start_new_session=True).pid
    path = os.path.join(stack.run_dir, "pids")
    with open(path) as f:
        lines = [f"{new} watch\n" if l.split()[1:] == ["watch"] else l for l in f]
    with open(path, "w") as f:
        f.writelines(lines)
    until = time.time() + 60
    while time.time() < until:
        if request(stack.api, "GET", "/health", timeout=2)[0] == 200:
            break
        time.sleep(0.3)
    return new


def iso(t):
    """The fake's timestamp format (RFC 3339 UTC, milliseconds), which sorts as text."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}Z"


def job_body(n, token, lane, rng, stack):
    body = {
        "prompt": f"chaos {token}, 1girl, cat ears",
        "model": rng.choice(["nai-v3", "nai-v3", "nai-v4.5"]),
        "resolution": rng.choice(["small_portrait", "small_square", "small_landscape"]),
        "seed": 100_000 + n,
        "priority": "normal" if lane == "test" else lane,
    }
    if lane == "test":
        body["is_test_request"] = True
    creds = rng.random()
    if creds < 0.1:
        body.update(auth_type="login", email="test@example.com", password=stack.login_password)
    elif creds < 0.2:
        body.update(auth_type="token", token=stack.fake_token)
    return body


def submit(stack, body, token, deadline):
    """The task id of a submitted job, retrying (same Idempotency-Key) until `deadline`."""
    tries, seen = 0, Counter()
    while time.time() < deadline:
        tries += 1
        status, answer, headers = request(
            stack.api, "POST", "/generate", body,
            {**stack.auth(), "Idempotency-Key": f"chaos-{token}"})
        if status == 200 and isinstance(answer, dict) and answer.get("task_id"):
            return answer["task_id"], tries, None
        code = answer.get("code") if isinstance(answer, dict) else None
        seen[f"{status} {code}"] += 1
        if status in (400, 401, 403, 404, 413, 422):
            return None, tries, f"{status} {answer}"
        wait = headers.get("Retry-After") or headers.get("retry-after")
        time.sleep(min(5.0, float(wait)) if wait and wait.isdigit() else 0.5)
    return None, tries, f"no task id before the deadline; answers {dict(seen)}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--jobs", type=int, default=40)
    ap.add_argument("--kills", type=int, default=4)
    ap.add_argument("--fault-rate", type=float, default=0.25)
    ap.add_argument("--fault-until", type=float, required=True,
                    help="unix seconds at which the faults end (NAIQ_FAULTS' until)")
    ap.add_argument("--budget", type=float, default=200, help="seconds for the whole run")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--latency-ms", type=int, default=250)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    here = os.path.dirname(os.path.abspath(__file__))
    stack = Stack(os.environ, os.path.join(here, ".run"))
    stack.login_password = os.environ.get("CHAOS_LOGIN_PASSWORD", "password123")
    watch = [stack.pids()["watch"]]
    t0 = time.time()
    end_faults = args.fault_until
    fault_seconds = max(10.0, end_faults - t0)
    end_all = t0 + args.budget
    log(f"seed {args.seed}: {args.jobs} jobs, {args.kills} kills, fake fault rate "
        f"{args.fault_rate} for {fault_seconds:.0f}s, budget {args.budget:g}s")

    status, answer, _ = request(stack.fake, "PUT", "/_fake/config", {
        "latency_ms": args.latency_ms, "fault_rate": args.fault_rate, "fault_seed": args.seed})
    if status != 200:
        sys.exit(f"chaos.py: the fake refused the random faults: {status} {answer}")

    # Jobs over the first half of the fault phase; test jobs about one in seven.
    plan = []
    for n in range(args.jobs):
        lane = LANES[n % 4] if n % 7 == 0 else rng.choice(LANES[1:])
        token = f"ctok{rng.getrandbits(40):010x}"
        at = t0 + rng.uniform(0, fault_seconds / 2)
        plan.append((at, n, token, lane))
    plan.sort()
    # Kills at random points of the fault phase, at least 20 s apart.
    modes = ["random", "after_answer", "mid_call"]
    kill_times = sorted(t0 + 5 + i * (fault_seconds - 10) / max(1, args.kills)
                        + rng.uniform(0, 8) for i in range(args.kills))
    kills, jobs, failures = [], [], []
    pending_kill = None
    # (time, size of watch.log): when each function log line was written, give or take a poll.
    log_marks = []
    watch_log = os.path.join(stack.run_dir, "logs", "watch.log")

    def mark_log():
        size = os.path.getsize(watch_log)
        if not log_marks or log_marks[-1][1] != size:
            log_marks.append((time.time(), size))

    def do_kill(mode):
        pid = worker_pid(watch[0])
        if pid is None:
            return None
        seen = stack.fake_log() or []
        in_flight = [r.get("received_at") for r in seen
                     if r.get("path") in GENERATE_PATHS and not r.get("finished_at")]
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        at = time.time()
        mark_log()
        log(f"kill -9 worker pid {pid} ({mode}); generations in flight at the fake: {len(in_flight)}")
        return {"at": at, "mode": mode, "pid": pid, "in_flight_at_fake": len(in_flight),
                "log_offset": log_marks[-1][1]}

    seen_finished = None
    coming_back = None
    while time.time() < end_all:
        now = time.time()
        mark_log()
        while plan and plan[0][0] <= now:
            _, n, token, lane = plan.pop(0)
            body = job_body(n, token, lane, rng, stack)
            task_id, tries, error = submit(stack, body, token, now + 90)
            record = {"n": n, "token": token, "lane": lane, "task_id": task_id, "tries": tries,
                      "auth_type": body.get("auth_type", "server"), "seed": body["seed"]}
            (jobs if task_id else failures).append({**record, "error": error})
        if coming_back is not None:
            # It comes back: the relay's next invoke starts a new worker process.
            pid = worker_pid(watch[0])
            if pid and pid != coming_back["pid"]:
                coming_back["back_after_s"] = round(time.time() - coming_back["at"], 2)
                log(f"a new worker process (pid {pid}) {coming_back['back_after_s']} s after the kill")
                coming_back = None
        elif kill_times and now >= kill_times[0] and pending_kill is None:
            kill_times.pop(0)
            # The aimed points first (they need calls to aim at), then at random.
            mode = modes[len(kills) % 2 + 1] if len(kills) < 2 else rng.choice(modes)
            pending_kill = {"mode": mode, "since": now}
        if pending_kill is not None and worker_pid(watch[0]):
            mode = pending_kill["mode"]
            entries = stack.fake_log() or []
            gens = [r for r in entries if r.get("path") in GENERATE_PATHS]
            # Only while it drains (a call in the last 3 s): a kill of an idle worker shows little.
            draining = any(r.get("received_at", "") >= iso(now - 3) for r in gens)
            fire = mode == "random" and draining
            if mode == "mid_call":
                fire = any(not r.get("finished_at") and r.get("fault") != "hang"
                           and r.get("received_at", "") >= iso(now - 2) for r in gens)
            if mode == "after_answer":
                done = [r for r in gens if r.get("status") == 200 and not r.get("fault")]
                if seen_finished is None:
                    seen_finished = len(done)
                fire = len(done) > seen_finished
            if not fire and now - pending_kill["since"] > 15:
                fire, mode = True, "random"  # nothing to aim at: a random point instead
            if fire:
                k = do_kill(mode)
                if k:
                    pending_kill, seen_finished = None, None
                    k["back_after_s"] = None
                    kills.append(k)
                    coming_back = k
                    watch[0] = restart_watch(stack, watch[0])
                    k["runtime_restarted_after_s"] = round(time.time() - k["at"], 2)
        if now >= end_faults and (kill_times or pending_kill):
            log(f"the fault phase is over; {len(kill_times) + bool(pending_kill)} kills not made")
            kill_times.clear()
            pending_kill = None
        if now >= end_faults and args.fault_rate > 0:
            request(stack.fake, "PUT", "/_fake/config", {"fault_rate": 0})
            args.fault_rate = 0
            log("the fake's faults are off; settling")
        calm = now >= end_faults and not plan and not kill_times and pending_kill is None
        if calm and coming_back is None:
            if all_done(stack, jobs):
                log("every job is finished")
                break
            time.sleep(1.5)
        else:
            time.sleep(0.05)
    request(stack.fake, "PUT", "/_fake/config", {"fault_rate": 0})

    # Quiesce: no more invocations, no worker, then read.
    pids = stack.pids()
    for name in ("relay",):
        try:
            os.killpg(pids[name], signal.SIGTERM)
        except (ProcessLookupError, KeyError):
            pass
    final_kill = None
    pid = worker_pid(watch[0])
    if pid:
        final_kill = do_kill("final_stop")
    ended = time.time()
    mark_log()
    # Every job in the table, those whose submit never answered a task id too.
    known = {j["task_id"] for j in jobs}
    tokens = {r["token"]: r for r in failures}
    for item in scan_jobs():
        text = json.dumps(item)
        task_id = (item.get("task_id") or {}).get("S")
        # The jobs table also holds each lane's queue counters (fair turns): not jobs.
        if not task_id or task_id in known or task_id.startswith(COUNTERS_PREFIX):
            continue
        found = TOKEN.findall(text)
        r = tokens.get(found[0]) if found else None
        lane = (item.get("lane") or {}).get("S") or "unknown"
        jobs.append({"n": r["n"] if r else 10_000 + len(jobs), "token": found[0] if found else None,
                     "lane": lane, "task_id": task_id, "tries": None, "unanswered_submit": True,
                     "auth_type": r["auth_type"] if r else "unknown"})
        log(f"task {task_id} ({lane}) is in the table though its submit got no task id")
    for j in jobs:
        j["final"] = task_status(stack, j["task_id"])
    out = {
        "seed": args.seed,
        "started_at": t0,
        "ended_at": ended,
        "fault_phase_end": end_faults,
        "jobs": jobs,
        "submit_failures": failures,
        "kills": kills,
        "final_kill": final_kill,
        "fake_requests": stack.fake_log() or [],
        "rate_limit": request(stack.api, "GET", "/rate_limit_status", headers=stack.auth())[1],
        "lanes": lane_counts(),
        "visibility_timeout": visibility_timeout(),
        "env": {k: os.environ.get(k) for k in (
            "RATE_LIMIT_MIN_INTERVAL", "RATE_LIMIT_MAX_INTERVAL", "COOLDOWN_MIN", "COOLDOWN_MAX",
            "RATE_LIMIT_DAILY", "MAX_ATTEMPTS", "NOVELAI_TIMEOUT_SECONDS", "PACING_TIMEZONE",
            "NAIQ_FAULTS", "WORKER_TIMEOUT_SECONDS")},
        "secrets": [s for s in (stack.key, stack.fake_token, stack.login_password) if s],
        "log_marks": log_marks,
        "log_dir": os.path.join(stack.run_dir, "logs"),
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    log(f"wrote {args.out}: {len(jobs)} jobs, {len(kills)} kills, "
        f"{len(out['fake_requests'])} requests at the fake, {ended - t0:.0f}s")


def task_status(stack, task_id):
    for _ in range(20):
        status, body, _ = request(stack.api, "GET", f"/task_status/{task_id}", headers=stack.auth())
        if status == 200 and isinstance(body, dict):
            return body
        time.sleep(0.5)
    return {"status": "UNREADABLE"}


def all_done(stack, jobs):
    for j in jobs:
        status, body, _ = request(stack.api, "GET", f"/task_status/{j['task_id']}", headers=stack.auth())
        if status != 200 or not isinstance(body, dict) or not body.get("done"):
            return False
    return True


TOKEN = __import__("re").compile(r"ctok[0-9a-f]{10}")


# The key prefix of the lane counters' items in the jobs table
# (shared/adapters/src/aws/dynamodb/mod.rs, COUNTERS_PREFIX).
COUNTERS_PREFIX = "queue-counters#"


def scan_jobs():
    import boto3
    client = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                          region_name=os.environ.get("AWS_REGION", "us-east-1"))
    items, start = [], None
    while True:
        kw = {"TableName": os.environ["JOBS_TABLE"]}
        if start:
            kw["ExclusiveStartKey"] = start
        page = client.scan(**kw)
        items += page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def sqs():
    import boto3  # the venv's (moto depends on it)
    return boto3.client("sqs", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                        region_name=os.environ.get("AWS_REGION", "us-east-1"))


def lane_counts():
    client, out = sqs(), {}
    for lane in LANES + ["dead_letter"]:
        var = "DEAD_LETTER_QUEUE_URL" if lane == "dead_letter" else f"QUEUE_URL_{lane.upper()}"
        url = os.environ.get(var)
        if not url:
            continue
        a = client.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        out[lane] = {"visible": int(a.get("ApproximateNumberOfMessages", 0)),
                     "not_visible": int(a.get("ApproximateNumberOfMessagesNotVisible", 0))}
    return out


def visibility_timeout():
    a = sqs().get_queue_attributes(QueueUrl=os.environ["QUEUE_URL_NORMAL"],
                                   AttributeNames=["VisibilityTimeout"])["Attributes"]
    return int(a["VisibilityTimeout"])


if __name__ == "__main__":
    main()
