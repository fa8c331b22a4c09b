"""Tests of the chaos run's checker (localstack/chaos_check.py) on made-up runs: a clean
one passes, and each broken promise is found."""

import copy
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaos_check  # noqa: E402

T0 = 1_764_640_000.0  # 2025-12-02T01:46:40Z


def iso(t):
    from datetime import datetime, timezone
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def gen(token, start, length=0.25, status=200, fault=None, finished=True):
    r = {"method": "POST", "path": "/ai/generate-image", "received_at": iso(start),
         "finished_at": iso(start + length) if finished else None, "status": status,
         "body": {"input": f"chaos {token}, 1girl", "parameters": {"seed": 1}}}
    if fault:
        r["fault"] = fault
    return r


def job(n, lane, status="SUCCESS", attempts=1):
    return {"n": n, "token": f"ctok{n:010x}", "lane": lane, "task_id": f"task-{n}",
            "auth_type": "server", "final": {"status": status, "attempts": attempts,
                                             "created_at": f"2025-12-02T01:46:{n:02d}Z"}}


def clean_run():
    jobs = [job(1, "normal"), job(2, "high", "FAILURE", attempts=2), job(3, "test")]
    reqs = [
        gen(jobs[0]["token"], T0 + 1.0),
        gen(jobs[1]["token"], T0 + 1.6, status=500, fault="500"),
        # after a failure: the cooldown minimum from its end (1.85 + 0.3)
        gen(jobs[1]["token"], T0 + 2.2, status=402, fault="402"),
        # a test job ignores the cooldown, but never overlaps
        gen(jobs[2]["token"], T0 + 2.5),
    ]
    return {
        "started_at": T0, "ended_at": T0 + 10, "jobs": jobs, "kills": [], "final_kill": None,
        "fake_requests": reqs,
        "rate_limit": {"rate_limit_info": {"requests_today": 100, "remaining": 900}},
        "lanes": {l: {"visible": 0, "not_visible": 0} for l in ("test", "high", "normal", "low")},
        "visibility_timeout": 960,
        "env": {"RATE_LIMIT_MIN_INTERVAL": "0.3", "COOLDOWN_MIN": "0.3", "RATE_LIMIT_DAILY": "1000",
                "MAX_ATTEMPTS": "3", "NOVELAI_TIMEOUT_SECONDS": "3"},
        "secrets": ["naiq_secretapikey123", "pst-fake-local-abcdef"],
    }


def kinds(run, events=()):
    violations, table = chaos_check.check(run, list(events))
    return sorted({k for k, _ in violations}), violations, table


class CheckerTest(unittest.TestCase):
    def test_a_clean_run_passes_and_is_counted(self):
        found, violations, table = kinds(clean_run())
        self.assertEqual(found, [], violations)
        self.assertEqual(table["upstream calls (at the fake)"], 4)
        self.assertEqual(table["answered with images"], 2)
        self.assertEqual(table["attempts (recorded)"], 4)
        self.assertEqual(table["faults injected at the fake"], {"500": 1, "402": 1})
        self.assertIn("| jobs", chaos_check.render(table))

    def test_an_answer_bought_twice_is_found_with_the_kill_between(self):
        run = clean_run()
        run["jobs"][0]["final"]["attempts"] = 2
        run["fake_requests"].append(gen(run["jobs"][0]["token"], T0 + 3.0))
        run["kills"] = [{"at": T0 + 1.3, "mode": "after_answer", "pid": 1, "back_after_s": 3}]
        found, violations, _ = kinds(run)
        self.assertEqual(found, ["paid_twice"], violations)
        self.assertIn("after_answer", violations[0][1])
        self.assertIn("task-1", violations[0][1])
        # killed in the instant after the answer (before it could be stored), with that
        # attempt counted as interrupted: a second attempt, not one paid twice
        lost = copy.deepcopy(run)
        lost["kills"][0]["at"] = T0 + 1.25 + 0.01
        lost["jobs"][0]["final"]["attempt_errors"] = [{"attempt": 1, "code": "interrupted"}]
        found, violations, table = kinds(lost)
        self.assertEqual(found, [], violations)
        self.assertEqual(table["answers lost to a kill before they were stored"], 1)
        # the same kill with no interrupted attempt recorded, or seconds after the answer
        # (it was stored by then): paid twice
        lost["jobs"][0]["final"]["attempt_errors"] = []
        self.assertEqual(kinds(lost)[0], ["paid_twice"])
        late = copy.deepcopy(lost)
        late["jobs"][0]["final"]["attempt_errors"] = [{"attempt": 1, "code": "interrupted"}]
        late["kills"][0]["at"] = T0 + 1.25 + chaos_check.STORE_WINDOW + 0.2
        self.assertEqual(kinds(late)[0], ["paid_twice"])

    def test_calls_without_a_job_or_beyond_the_attempts_are_found(self):
        run = clean_run()
        run["fake_requests"].append(gen("no-token-here", T0 + 4.0, status=500, fault="500"))
        run["fake_requests"].append(gen(run["jobs"][1]["token"], T0 + 5.0, status=500, fault="500"))
        found, violations, _ = kinds(run)
        self.assertEqual(found, ["call_without_attempt", "call_without_job"], violations)

    def test_a_retried_submit_with_a_job_of_its_own_shares_the_calls(self):
        run = clean_run()
        orphan = job(1, "normal", "FAILURE", attempts=0)
        orphan["task_id"] = "task-1-first-try"
        run["jobs"].append(orphan)
        self.assertEqual(kinds(run)[0], [])
        # both queued and both paid: the submit was bought twice
        orphan["final"].update(status="SUCCESS", attempts=1)
        run["fake_requests"].append(gen(run["jobs"][0]["token"], T0 + 3.0))
        found, violations, _ = kinds(run)
        self.assertEqual(found, ["paid_twice"], violations)
        self.assertIn("task-1-first-try", violations[0][1])

    def test_short_gaps_are_found_but_test_jobs_may_skip_them(self):
        run = clean_run()
        # 0.2 s after the start of a successful call
        run["jobs"].append(job(4, "low"))
        run["fake_requests"].append(gen(run["jobs"][3]["token"], T0 + 2.75))
        found, violations, _ = kinds(run)
        self.assertEqual(found, ["gap"], violations)
        run["jobs"][3]["lane"] = "test"
        self.assertEqual(kinds(run)[0], [])
        # a failed call: the cooldown counts from its end
        run = clean_run()
        run["fake_requests"][2] = gen(run["jobs"][1]["token"], T0 + 2.0, status=402, fault="402")
        found, violations, _ = kinds(run)
        self.assertEqual(found, ["gap"], violations)
        self.assertIn("cooldown", violations[0][1])

    def test_a_hang_counts_until_naiqs_timeout_unless_the_worker_was_killed(self):
        run = clean_run()
        run["fake_requests"][1:] = [gen(run["jobs"][1]["token"], T0 + 1.6, finished=False, status=0, fault="hang"),
                                    gen(run["jobs"][1]["token"], T0 + 2.6, status=500, fault="500")]
        run["jobs"] = run["jobs"][:2]
        found, _, _ = kinds(run)
        self.assertEqual(found, ["gap", "two_in_flight"])
        run["kills"] = [{"at": T0 + 2.0, "mode": "mid_call", "pid": 1, "back_after_s": 3}]
        run["fake_requests"][2] = gen(run["jobs"][1]["token"], T0 + 2.3, status=500, fault="500")
        self.assertEqual(kinds(run)[0], [])

    def test_overlapping_calls_and_the_fakes_own_429_are_found(self):
        run = clean_run()
        run["fake_requests"][3] = gen(run["jobs"][2]["token"], T0 + 2.5, status=429)
        run["jobs"][2]["final"]["status"] = "FAILURE"
        self.assertEqual(kinds(run)[0], ["two_in_flight"])
        run = clean_run()
        run["fake_requests"][3] = gen(run["jobs"][2]["token"], T0 + 2.4)
        run["fake_requests"][2]["finished_at"] = iso(T0 + 2.45)
        self.assertEqual(kinds(run)[0], ["two_in_flight"])

    def test_the_daily_limit_and_the_count(self):
        run = clean_run()
        run["env"]["RATE_LIMIT_DAILY"] = "3"
        run["rate_limit"]["rate_limit_info"]["requests_today"] = 4
        self.assertEqual(kinds(run)[0], ["daily_limit"])
        run = clean_run()
        run["rate_limit"]["rate_limit_info"]["requests_today"] = 3
        self.assertEqual(kinds(run)[0], ["call_uncounted"])

    def test_a_worker_that_does_not_come_back_is_found(self):
        run = clean_run()
        run["kills"] = [{"at": T0 + 9, "mode": "random", "pid": 1, "back_after_s": None}]
        self.assertEqual(kinds(run)[0], ["worker_not_back"])

    def test_a_long_call_overlapping_three_later_ones_is_found_for_each(self):
        run = clean_run()
        run["fake_requests"][0] = gen(run["jobs"][0]["token"], T0 + 1.0, length=1.6)
        found, violations, _ = kinds(run)
        self.assertEqual([k for k, _ in violations].count("two_in_flight"), 3, violations)

    def test_credentials_in_a_log_line_are_found(self):
        events = [("watch.log", 7, '{"fields": {"message": "token pst-fake-local-abcdef"}}\n', None, 60),
                  ("watch.log", 8, "nothing here\n", None, 73)]
        found, violations, _ = kinds(clean_run(), events)
        self.assertEqual(found, ["credential_in_log"])
        self.assertIn("watch.log:7", violations[0][1])
        self.assertNotIn("abcdef", violations[0][1])

    def test_waiting_jobs_need_a_valid_reason(self):
        run = clean_run()
        run["jobs"].append(job(5, "low", "PENDING", attempts=0))
        found, violations, _ = kinds(run)
        self.assertEqual(found, ["job_waiting"], violations)
        # its lane is held by a message in flight after a kill: valid
        held = copy.deepcopy(run)
        held["lanes"]["low"]["not_visible"] = 1
        held["kills"] = [{"at": T0 + 8, "mode": "random", "pid": 1, "back_after_s": 1}]
        found, _, table = kinds(held)
        self.assertEqual(found, [])
        self.assertEqual(sum(table["waiting, by reason"].values()), 1)
        # ...but not once the visibility timeout has passed
        held["visibility_timeout"] = 1
        self.assertEqual(kinds(held)[0], ["job_waiting"])
        # or after a backend error logged with its task id
        err = copy.deepcopy(run)
        err["lanes"]["low"]["not_visible"] = 1
        events = [("watch.log", 1, "", {"level": "ERROR",
                                        "fields": {"task_id": "task-5", "message": "x"}}, 100)]
        err["log_marks"] = [[T0 + 8, 100]]
        self.assertEqual(kinds(err, events)[0], [])
        # or after a receive whose answer was lost (injected): the message it took is
        # hidden, from a lane the log does not name
        lost = copy.deepcopy(run)
        lost["lanes"]["low"]["not_visible"] = 1
        events = [("watch.log", 1, "", {"level": "WARN", "fields": {
            "message": "NAIQ_FAULTS: the call was made; its answer is lost",
            "injected_fault": "timeout_after_call", "service": "SQS",
            "operation": "queue.receive", "call_succeeded": True}}, 100)]
        lost["log_marks"] = [[T0 + 8, 100]]
        found, _, table = kinds(lost, events)
        self.assertEqual(found, [])
        self.assertIn("lane low held by a message in flight (visibility 960s) after a receive "
                      "whose answer was lost", table["waiting, by reason"])
        # ...but not a lost answer of another operation
        events[0][3]["fields"]["operation"] = "queue.release"
        self.assertEqual(kinds(lost, events)[0], ["job_waiting"])
        # a kill while another lane's job was in hand does not hold this lane
        other = copy.deepcopy(run)
        other["lanes"]["low"]["not_visible"] = 1
        other["kills"] = [{"at": T0 + 8, "mode": "mid_call", "pid": 1, "log_offset": 100,
                           "back_after_s": 1}]
        events = [("watch.log", 1, "", {"level": "INFO",
                                        "fields": {"task_id": "task-1", "message": "sending to NovelAI"},
                                        "spans": [{"name": "job", "task_id": "task-1"}]}, 90)]
        self.assertEqual(kinds(other, events)[0], ["job_waiting"])
        # a kill after the worker's last outcome, with the waiting job named only by the
        # API's "job accepted": the worker may have just received it, so its lane is held
        between = copy.deepcopy(other)
        between["kills"][0]["mode"] = "random"
        events = [("watch.log", 1, "", {"level": "INFO",
                                        "fields": {"task_id": "task-5", "message": "job accepted"}}, 50),
                  ("watch.log", 2, "", {"level": "INFO",
                                        "fields": {"task_id": "task-1", "message": "job succeeded"},
                                        "spans": [{"name": "job", "task_id": "task-1"}]}, 80)]
        self.assertEqual(kinds(between, events)[0], [])
        # ...but not once the worker has named it and gone on to an outcome of it
        done_with = events + [("watch.log", 3, "", {"level": "INFO",
                                                    "fields": {"message": "job succeeded"},
                                                    "spans": [{"name": "job", "task_id": "task-5"}]}, 90)]
        self.assertEqual(kinds(between, done_with)[0], ["job_waiting"])
        # a job left STARTED by a kill after its start holds its lane, whatever the log
        # shows; started after the last kill, nothing excuses it
        started = copy.deepcopy(run)
        started["jobs"][-1]["final"].update(status="STARTED", started_at=iso(T0 + 7))
        started["lanes"]["low"]["not_visible"] = 1
        started["kills"] = [{"at": T0 + 8, "mode": "after_answer", "pid": 1, "log_offset": 100,
                             "back_after_s": 1}]
        self.assertEqual(kinds(started, events)[0], [])
        started["jobs"][-1]["final"]["started_at"] = iso(T0 + 8.5)
        self.assertEqual(kinds(started, done_with)[0], ["job_waiting"])
        # queued visibly while the worker was still calling: valid
        busy = copy.deepcopy(run)
        busy["lanes"]["low"]["visible"] = 1
        self.assertEqual(kinds(busy)[0], [])
        busy["ended_at"] = T0 + 60
        self.assertEqual(kinds(busy)[0], ["job_waiting"])
        # a job whose submit never answered and whose lane holds no message: a ghost the
        # reaper fails later, valid while it is younger than the reaper's wait
        ghost = copy.deepcopy(run)
        ghost["jobs"][-1]["unanswered_submit"] = True
        ghost["jobs"][-1]["final"]["created_at"] = iso(T0 + 5)
        self.assertEqual(kinds(ghost)[0], [])
        ghost["ended_at"] = T0 + 5 + chaos_check.REAPER_WAIT + 1
        self.assertEqual(kinds(ghost)[0], ["job_waiting"])
        # the quota spent: valid
        spent = copy.deepcopy(run)
        spent["rate_limit"]["rate_limit_info"]["remaining"] = 0
        self.assertEqual(kinds(spent)[0], [])

    def test_the_script_exits_non_zero_on_a_violation(self):
        run = clean_run()
        run["fake_requests"].append(gen("nobody", T0 + 5.0))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "run.json")
            with open(path, "w") as f:
                json.dump(run, f)
            sys.argv = ["chaos_check.py", path]
            with self.assertRaises(SystemExit) as exit_:
                import contextlib
                import io
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                    chaos_check.main()
            self.assertEqual(exit_.exception.code, 1)


if __name__ == "__main__":
    unittest.main()
