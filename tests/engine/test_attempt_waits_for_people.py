"""An attempt whose agent waits for a person is not timed out meanwhile (issue 13): the clock of
its `timeout_seconds` stops while one of its questions is open, and its lease keeps being
renewed. Real store, the stand-in agent hanging as an agent blocked in `ask_operator` would."""

from __future__ import annotations

import asyncio
import os
import re

import pytest
from helpers.supervisor import make_settings, supervising

from lanes_tui.core.requests import QUESTION
from lanes_tui.engine import events as ev

LIMIT = 2  # the lane's timeout_seconds
HELD = 5  # how long the question stays open: well past the limit


async def test_the_timeout_clock_stops_while_a_question_is_open(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    task = workspace.submit()
    store = workspace.store()
    settings = make_settings(workspace, lane={"timeout_seconds": LIMIT, "max_attempts": 1, "renew_seconds": 0.5},
                             kill_grace_seconds=0.5)
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.WorkerStarted, task["id"])
        question = store.requests().open(kind=QUESTION, agent=h.supervisor.agent_id(task["id"]), text="go on?",
                                         task_id=task["id"], lane="default", timeout_seconds=60, pid=os.getpid())
        renewed_before = len(h.events.of(ev.LeaseRenewed, task["id"]))
        with pytest.raises(asyncio.TimeoutError):  # well past its limit, the attempt lives on
            await asyncio.wait_for(h.events.wait_for(ev.TaskFailed, task["id"]), HELD)
        assert len(h.events.of(ev.LeaseRenewed, task["id"])) >= renewed_before + 2  # still renewing
        assert h.supervisor.records[task["id"]].state == "claimed"
        store.requests().answer(question.id, decision="reply", reply="yes", by="operator:test")
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])  # the rest of its time, then out
    assert re.search(rf"^1\. timed out after {LIMIT} s \(\d+ s waiting for a person not counted\)$", failed.reason,
                     re.MULTILINE), failed.reason


async def test_a_blocker_does_not_stop_the_clock(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "hang")
    task = workspace.submit()
    store = workspace.store()
    settings = make_settings(workspace, lane={"timeout_seconds": 1, "max_attempts": 1}, kill_grace_seconds=0.5)
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.WorkerStarted, task["id"])
        store.requests().open(kind="blocker", agent=h.supervisor.agent_id(task["id"]), text="no access to CI",
                              task_id=task["id"], lane="default", timeout_seconds=60)
        failed = await h.events.wait_for(ev.TaskFailed, task["id"])  # reported, not waited for
    assert failed.reason.splitlines()[-1] == "1. timed out after 1 s"
