"""`lanes-tui --no-ui` as a real process: interrupts, exit codes, --summary and --json."""

from __future__ import annotations

import json
import os
import signal
import time

from helpers.supervisor import (
    BOUND,
    event_types,
    events_of,
    json_event,
    make_settings,
    until,
)

from lanes_tui.core import procinfo
from lanes_tui.core.model import COMPLETED, FAILED, QUEUED


async def test_sigint_lets_a_running_worker_finish_and_claims_nothing_more(workspace, standins, headless, tmp_path):
    make_settings(workspace, concurrency={"global": 1}, shutdown_grace_seconds=20)
    first = workspace.submit(name="first")
    second = workspace.submit(name="second")
    summary = tmp_path / "summary.json"
    proc, out = headless.start(workspace, "--json", "--summary", str(summary),
                               env={"STANDIN_MODE": "slow", "STANDIN_DELAY": "0.2"})
    out.wait_for(json_event("worker_started", first["id"]))
    os.kill(proc.pid, signal.SIGINT)
    interrupted_at = time.monotonic()
    assert proc.wait(BOUND) == 130
    assert time.monotonic() - interrupted_at < 10
    store = workspace.store()
    assert store.read_task(first["id"])["state"] == COMPLETED  # finished within the grace
    assert store.read_response(first["id"])["status"] == COMPLETED
    assert event_types(store, second["id"]) == ["created"]  # no claim after the interrupt
    events = [json.loads(line) for line in out.text().splitlines()]
    assert events[-1]["event"] == "supervisor_stopped" and events[-1]["reason"] == "interrupted by SIGINT"
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 130
    assert [(t["id"], t["state"]) for t in data["tasks"]] == [(first["id"], COMPLETED)]


async def test_sigint_stops_a_hanging_worker_after_the_grace_and_releases_with_a_reason(workspace, standins, headless, tmp_path):
    make_settings(workspace, lane={"timeout_seconds": 60}, shutdown_grace_seconds=1, kill_grace_seconds=0.5)
    task = workspace.submit()
    summary = tmp_path / "summary.json"
    proc, out = headless.start(workspace, "--summary", str(summary), env={"STANDIN_MODE": "hang"})
    line = out.wait_for(lambda l: "worker_started" in l and task["id"] in l)
    pgid = int(line.split("pid=")[1].split()[0])
    store = workspace.store()
    await until(lambda: "headless_started" in event_types(store, task["id"]))
    os.kill(proc.pid, signal.SIGINT)
    interrupted_at = time.monotonic()
    assert proc.wait(BOUND) == 130
    took = time.monotonic() - interrupted_at
    assert 1.0 <= took < 1.0 + 0.5 + 5, took  # the grace was given, then the worker was stopped
    assert not procinfo.group_alive(pgid)
    stored = store.read_task(task["id"])
    assert stored["state"] == QUEUED and stored["claim_owner"] is None
    released = events_of(store, task["id"], "released")
    assert len(released) == 1 and released[0]["data"]["reason"] == "supervisor stopped: interrupted by SIGINT"
    assert "attempt_failed" not in event_types(store, task["id"])  # a shutdown is not the task's failure
    text = out.text()
    assert "worker_abandoned" in text and "supervisor stopped; claim released" in text
    record = json.loads(summary.read_text())["tasks"][0]
    assert record["id"] == task["id"] and record["state"] == QUEUED
    assert record["reason"] == "released: supervisor stopped"


async def test_second_sigint_stops_workers_without_waiting_for_the_grace(workspace, standins, headless):
    make_settings(workspace, lane={"timeout_seconds": 60}, shutdown_grace_seconds=60, kill_grace_seconds=0.5)
    task = workspace.submit()
    proc, out = headless.start(workspace, "--json", env={"STANDIN_MODE": "hang"})
    out.wait_for(json_event("worker_started", task["id"]))
    # The first interrupt starts a 60 s grace; the second cuts it short. (SIGINT then SIGTERM:
    # two different signals cannot merge into one pending signal, two SIGINTs could.)
    os.kill(proc.pid, signal.SIGINT)
    time_first = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(BOUND) == 130
    assert time.monotonic() - time_first < 10
    assert workspace.store().read_task(task["id"])["state"] == QUEUED


async def test_drain_with_json_and_summary_reports_every_task(workspace, standins, headless, tmp_path):
    make_settings(workspace, lane={"max_attempts": 1})
    ok = workspace.submit(name="ok", lane="alpha")
    over = workspace.submit(name="over", lane="beta", metadata={"max_cost_usd": 0.001})
    summary = tmp_path / "out" / "summary.json"
    proc, out = headless.start(workspace, "--drain", "--json", "--summary", str(summary), env={"STANDIN_MODE": "ok"})
    assert proc.wait(BOUND) == 10  # some task failed
    lines = out.text().splitlines()
    events = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all(isinstance(e["time"], float) and isinstance(e["event"], str) for e in events)
    names = [e["event"] for e in events]
    assert names[0] == "supervisor_started" and names[-1] == "supervisor_stopped"
    assert {"worker_started", "task_completed", "task_failed"} <= set(names)
    assert events[-1]["reason"] == "drained"
    data = json.loads(summary.read_text())
    assert data["exit_code"] == 10 and data["store"] == str(workspace.store_root)
    by_id = {t["id"]: t for t in data["tasks"]}
    assert set(by_id) == {ok["id"], over["id"]}
    good, bad = by_id[ok["id"]], by_id[over["id"]]
    for entry in (good, bad):
        assert set(entry) >= {"id", "lane", "state", "attempts", "duration_ms", "tokens_in", "tokens_out",
                              "cost_usd", "reason"}
        assert entry["attempts"] == 1 and entry["duration_ms"] > 0
        assert entry["api_retries"] == 0 and entry["denials"] == 0 and entry["attention"] is None
    assert good["tokens_out"] == 248 and good["cost_usd"] == 0.0336477 and good["cost_estimated"] is False
    # Stopped once its first message was over budget, on the price table's estimate ($3/$3.75/$0.30/$15
    # per MTok). The tokens of lines already in the pipe by then are counted too: they were spent.
    assert bad["tokens_out"] >= 61 and bad["cost_usd"] > 0.001
    assert bad["reason"] == "budget exceeded: estimated cost $0.0203 > max_cost_usd $0.001"
    assert good["lane"] == "alpha" and good["state"] == COMPLETED and good["reason"] is None
    assert bad["lane"] == "beta" and bad["state"] == FAILED and bad["reason"].startswith("budget exceeded")
    assert data["totals"]["completed"] == 1 and data["totals"]["failed"] == 1
    assert data["totals"]["tokens_out"] == 248 + bad["tokens_out"] and data["waiting"] == []


async def test_drain_exits_0_when_everything_completed(workspace, standins, headless):
    make_settings(workspace)
    tasks = [workspace.submit(name=f"t{i}") for i in range(2)]
    proc, out = headless.start(workspace, "--drain", env={"STANDIN_MODE": "ok"})
    assert proc.wait(BOUND) == 0
    text = out.text()
    assert text.count("task_completed") == 2 and "supervisor_stopped" in text and "reason=drained" in text
    assert all(workspace.store().read_task(t["id"])["state"] == COMPLETED for t in tasks)
