"""Failures with the real CLIs: API retries, rate limits, quotas, 5xx, timeouts, and the operator's hand.

Every scenario is scripted in the model-API stand-in; the CLIs react to it as
they would to the real API (their own retries included), and the supervisor to
what the CLIs print.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from .harness import LANES_TUI, wait_until

RATE_LIMITED = {"status": 429, "message": "Number of request tokens has exceeded your per-minute rate limit",
                "headers": {"retry-after": "0"}}


def record_of(agents, task):
    return agents.store().read_task(task["id"])


def types_of(agents, task):
    return [e.get("type") for e in agents.store().read_events(task["id"]).events]


def summary_of(box):
    path = box.folder.parent / f"summary-{box.folder.name.split('-')[1]}.json"
    return json.loads(path.read_text())


def gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def run_cli(agents, *args):
    return subprocess.run([*LANES_TUI, "--config", str(agents.workspace.config), *args],
                          capture_output=True, text=True, timeout=60, cwd=agents.workspace.root)


# -- the API pushing back ----------------------------------------------------------------------


def test_claude_api_retries_are_shown_then_the_rate_limit_pauses_the_vendor(agents):
    agents.settings()
    task = agents.submit(metadata={"required_vendor": "claude"})
    box = agents.drain({"anthropic": [RATE_LIMITED, RATE_LIMITED, RATE_LIMITED, {"text": "answered after the pause"}]})
    # Claude Code retried twice itself (CLAUDE_CODE_MAX_RETRIES from the vendor table), not ten times.
    retries = [e for e in box.events() if e["event"] == "worker_api_retry"]
    assert [e["attempt"] for e in retries] == [1, 2] and all(e["status"] == 429 for e in retries)
    assert retries[0]["text"].startswith("API 429, retry 1/2")
    paused = next(e for e in box.events() if e["event"] == "vendor_paused")
    assert paused["vendor"] == "claude" and paused["seconds"] == 1 and not paused["quota"]
    assert len(box.requests()) == 4
    response = agents.store().read_response(task["id"])
    assert response["status"] == "completed" and response["body"] == "answered after the pause"
    types = types_of(agents, task)
    # The rate limit cost no attempt (max_attempts is 1 here): released, paused, claimed again.
    assert types.count("rate_limited") == 1 and types.count("claimed") == 2 and "attempt_failed" not in types


def test_codex_reconnects_are_api_retries_and_a_lasting_429_pauses_it(agents):
    agents.settings()
    task = agents.submit(metadata={"required_vendor": "codex"})
    box = agents.drain({"openai": [RATE_LIMITED, RATE_LIMITED, {"text": "codex answered"}]})
    retries = [e for e in box.events() if e["event"] == "worker_api_retry"]
    assert retries and retries[0]["text"].startswith("API 429, retry 1/")
    assert any(e["event"] == "vendor_paused" and e["vendor"] == "codex" for e in box.events())
    assert agents.store().read_response(task["id"])["body"] == "codex answered"
    assert types_of(agents, task).count("rate_limited") == 1


def test_a_quota_that_never_lifts_ends_the_drain_with_exit_11_and_loses_nothing(agents):
    agents.settings(drain_give_up_seconds=2)
    task = agents.submit(metadata={"required_vendor": "claude"})
    quota = {"status": 400, "message": "Your credit balance is too low to access the Anthropic API."}
    box = agents.drain({"anthropic": [quota]}, expect=11)
    summary = summary_of(box)
    (waiting,) = summary["waiting"]
    assert waiting["id"] == task["id"]
    assert "vendor claude unusable" in waiting["reason"] and "quota" in waiting["reason"]
    assert record_of(agents, task)["state"] == "queued"  # nothing claimed, nothing lost
    assert 2 <= len(box.requests()) <= 4  # tried again after each cool-down, then gave up
    assert "drain stopped" in box.stderr() and "quota" in box.stderr()


@pytest.mark.parametrize("resets_in", [
    pytest.param(7200, id="in-two-hours"),  # "try again at 3:10 AM", or with a date when that is tomorrow
    pytest.param(2 * 86400, id="the-day-after-tomorrow"),  # always "try again at Dec 5th, 2026 3:10 AM"
])
def test_a_usage_limit_with_a_reset_time_pauses_until_then(agents, resets_in):
    agents.settings(drain_give_up_seconds=60)
    task = agents.submit(metadata={"required_vendor": "codex"})
    limit = {"status": 429, "error_type": "usage_limit_reached", "message": "The usage limit has been reached",
             "error_fields": {"plan_type": "plus", "resets_in_seconds": resets_in,
                              "resets_at": int(time.time()) + resets_in}}
    box = agents.drain({"openai": [limit]}, expect=11)
    paused = next(e for e in box.events() if e["event"] == "vendor_paused")
    # codex names the local time of the reset (to the minute); the pause lasts until then.
    assert paused["quota"] and resets_in - 120 < paused["seconds"] <= resets_in + 100
    assert len(box.requests()) == 1  # past drain_give_up_seconds at once: no second try
    assert record_of(agents, task)["state"] == "queued"


def test_claude_recovers_from_a_5xx_by_its_own_retry(agents):
    agents.settings()
    task = agents.submit(metadata={"required_vendor": "claude"})
    box = agents.drain({"anthropic": [{"status": 500, "message": "Internal server error"}, {"text": "fine now"}]})
    (retry,) = [e for e in box.events() if e["event"] == "worker_api_retry"]
    assert retry["status"] == 500
    response = agents.store().read_response(task["id"])
    assert response["body"] == "fine now" and response["metadata"]["api_retries"] == 1


def test_a_lasting_5xx_is_a_failed_attempt_retried_then_a_failed_task(agents):
    agents.settings(lane_defaults={"max_attempts": 2})
    task = agents.submit(metadata={"required_vendor": "codex"})
    agents.drain({"openai": [{"status": 500, "message": "The server had an error"}]}, expect=10)
    response = agents.store().read_response(task["id"])
    assert response["status"] == "failed" and response["body"].startswith("failed after 2 attempt(s):")
    assert types_of(agents, task).count("attempt_failed") == 2
    assert "agent exited with status 1" in response["body"]


# -- time and the operator ---------------------------------------------------------------------


def test_a_hung_model_call_times_out_and_the_cli_is_stopped(agents):
    # Long enough for Claude Code to start lanes-tui's MCP server before its first model call
    # (a loaded CI machine took more than 3 s), short enough to be a hang.
    agents.settings(lane_defaults={"timeout_seconds": 10})
    task = agents.submit(metadata={"required_vendor": "claude"})
    box = agents.supervise({"anthropic": [{"hang": True}]})
    started = box.wait_for_event("worker_started")
    box.wait_for_requests(1)
    assert box.finish() == 10
    assert gone(started["pid"])
    response = agents.store().read_response(task["id"])
    assert response["status"] == "failed" and "timed out after 10 s" in response["body"]


def test_cancel_stops_the_real_cli_at_once(agents):
    agents.settings()
    task = agents.submit(metadata={"required_vendor": "claude"})
    box = agents.supervise({"anthropic": [{"hang": True}]})
    started = box.wait_for_event("worker_started")
    box.wait_for_requests(1)
    done = run_cli(agents, "cancel", task["id"], "--reason", "not needed after all")
    assert done.returncode == 0, done.stderr
    box.wait_for_event("worker_abandoned", task_id=task["id"])
    code = box.finish()
    assert gone(started["pid"])
    stored = record_of(agents, task)
    assert stored["state"] == "failed" and stored["failure_reason"].startswith("cancelled")
    # The operator ended it, not a failure of the run: exit 0, the summary says "abandoned" and why.
    assert code == 0
    (entry,) = summary_of(box)["tasks"]
    assert entry["state"] == "abandoned" and "cancelled" in entry["reason"]


def test_break_stops_the_cli_and_the_task_runs_again(agents):
    agents.settings(lane_defaults={"max_attempts": 2})
    task = agents.submit(metadata={"required_vendor": "claude"})
    box = agents.supervise({"anthropic": [{"hang": True}, {"text": "second time lucky"}]})
    first = box.wait_for_event("worker_started")
    box.wait_for_requests(1)
    done = run_cli(agents, "break", task["id"], "--reason", "looked stuck")
    assert done.returncode == 0, done.stderr
    assert box.finish() == 0
    assert gone(first["pid"])
    response = agents.store().read_response(task["id"])
    assert response["body"] == "second time lucky" and response["metadata"]["attempt"] == 2
    released = [e for e in agents.store().read_events(task["id"]).events if e.get("type") == "released"]
    assert released and released[0]["data"]["reason"] == "looked stuck"


def test_sigkill_of_the_supervisor_takes_the_cli_down_and_the_next_one_resumes(agents):
    agents.settings(lane_defaults={"max_attempts": 2})  # the killed run is attempt 1 of 2 (G3)
    task = agents.submit(metadata={"required_vendor": "codex"})
    box = agents.supervise({"openai": [{"hang": True}]})
    started = box.wait_for_event("worker_started")
    box.wait_for_requests(1)
    os.kill(box.child_pid(), signal.SIGKILL)
    box.finish()
    # The guard takes the worker's group (the real codex) down with its supervisor.
    wait_until(lambda: gone(started["pid"]), "the orphaned worker to be gone", 30)
    assert record_of(agents, task)["state"] == "claimed"  # the dead supervisor's claim, for now

    again = agents.drain({"openai": [{"text": "resumed"}]})
    begun = again.wait_for_event("supervisor_started")
    assert task["id"] in begun["recovered_tasks"]  # re-queued at once, not after the lease (G2)
    response = agents.store().read_response(task["id"])
    assert response["body"] == "resumed" and response["metadata"]["attempt"] == 2
    assert "supervisor died" in json.dumps(agents.store().read_events(task["id"]).events)
