"""The engine's view of what waits for a person (issue 13): a task whose agent asked shows
`needs input`, the header counts open requests, new ones are announced once (the dashboard
rings), and an answer from the dashboard clears them at once. Real store, watch-only engine."""

from __future__ import annotations

import asyncio
import os

from helpers.supervisor import make_settings, until

from lanes_tui.core.handoff import load_config
from lanes_tui.core.requests import ANSWERED, BLOCKER, QUESTION
from lanes_tui.engine.service import Engine, EngineChanged


def _board(workspace) -> Engine:
    return Engine(workspace.store(), make_settings(workspace), config=load_config(workspace.config),
                  operator="operator:test", watch_only=True)


async def test_a_question_makes_its_task_need_input_until_answered(workspace):
    store = workspace.store()
    asking = workspace.submit(name="a")["id"]
    blocked = workspace.submit(name="b")["id"]
    for task_id in (asking, blocked):
        store.claim(task_id, owner="w", lease_seconds=600)
    earlier = store.requests().open(kind=BLOCKER, agent="w/b", text="no CI access", task_id=blocked, lane="default")
    engine = _board(workspace)
    changes: list[EngineChanged] = []
    engine.subscribe(changes.append)
    await engine.start()
    try:
        await until(lambda: engine.pending_requests(), what="the blocker there before the start")
        assert [r.id for r in engine.pending_requests()] == [earlier.id]
        assert engine.row(blocked).asking == 0  # a blocker: its agent goes on
        asked = store.requests().open(kind=QUESTION, agent="w/a", text="Which \x1b[31mdatabase?", task_id=asking,
                                      lane="default", options=["pg", "sqlite"], pid=os.getpid())
        await until(lambda: engine.row(asking).asking == 1, what="the question reached the row")
        row = engine.row(asking)
        assert row.reason == "needs input: question r2: Which \\x1b[31mdatabase?"  # escaped, never raw
        assert engine.totals().needs_input == 2
        arrived = [r.id for c in changes for r in c.requests_arrived]
        assert arrived == [asked.id]  # announced once; what was there at the start is not "new"
        answered = await engine.answer_request(asked.id, "reply", "pg")
        assert answered.state == ANSWERED and answered.answered_by == "operator:test"
        # At once, not when the folder's feed wakes: the answer's own re-read.
        assert engine.row(asking).asking == 0 and engine.totals().needs_input == 1
        assert store.requests().get(asked.id).reply == "pg"
    finally:
        engine.request_stop("test over")
        await asyncio.wait_for(engine.run(), 10)
