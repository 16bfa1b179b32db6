"""A person answers a request: the one way the dashboard, `lanes-tui answer` and the HTTP API do it.

The request book records the answer (one answer wins, core/requests.py). What the
agent does with it depends on the kind: a question's reply reaches the agent that
waits in `ask_operator`; a permission's decision reaches the waiting permission
tool; a blocker does not wait, so its reply is also sent as a message from the
person to the agent, which it reads with `read_messages` (or `lanes-tui inbox`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lanes_tui.core.requests import BLOCKER, InputRequest

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend


def answer_request(store: "Backend", request_id: str, *, decision: str, reply: str, by: str) -> InputRequest:
    answered = store.requests().answer(request_id, decision=decision, reply=reply, by=by)
    if answered.kind == BLOCKER:
        store.messages().send(by, answered.agent, f"Reply to your blocker {answered.id}: {answered.reply}")
    return answered
