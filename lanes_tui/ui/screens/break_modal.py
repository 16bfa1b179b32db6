"""Breaking a claim: what the operator must see first, and the reason recorded in the audit event.

A claim is broken when its holder looks dead, so the dialog shows the evidence
per task: who holds it, since when, when the lease runs out, and the last sign
of life in the task's events. When the holder is one of our own workers it is
stopped (and its process group verified gone) before the claim is released,
and the dialog says so. The reason goes into the `released` event's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from lanes_tui.core.clock import parse_ts
from lanes_tui.core.errors import LanesError
from lanes_tui.core.sanitize import one_line
from lanes_tui.engine.service import Engine
from lanes_tui.ui import formatting as fmt
from lanes_tui.ui.screens.confirm_modal import DIALOG_CSS

DEFAULT_REASON = "broken from the dashboard"
# Events that show the holder was alive: the claim itself, lease renewals, and what
# dispatchers and workers append while they run (agent-lanes allows any type).
SIGN_OF_LIFE = frozenset({"claimed", "renewed", "heartbeat", "progress", "dispatcher_started", "headless_started"})


@dataclass(frozen=True)
class BreakInfo:
    task_id: str
    holder: str  # sanitised claim owner ("" when unknown)
    claimed_at: datetime | None
    lease_expires_at: datetime | None
    last_heartbeat: datetime | None  # newest sign-of-life event since the claim, else claimed_at
    ours: bool  # one of our supervisor's workers runs it: it is stopped before the break
    as_of: datetime | None = None  # the clock reading the ages are relative to
    problem: str = ""  # why part of this is unknown (the task could not be read), sanitised
    elsewhere: str = ""  # another host holds the claim: who, and when it notices (engine/remote_claims.py)


def break_info(engine: Engine, task_id: str, now: datetime) -> BreakInfo:
    """What is known about `task_id`'s claim (reads task.json and events: blocking, but small)."""
    ours = task_id in engine.running_ids()
    try:
        detail = engine.task_detail(task_id)
    except (LanesError, OSError) as exc:
        # Fall back to the index's row: the dialog still opens, with what we know.
        row = engine.row(task_id)
        return BreakInfo(task_id, row.owner if row else "", None, row.lease_expires_at if row else None, None,
                         ours, now, one_line(str(exc), 300))
    task: dict[str, Any] = detail.get("task") or {}
    claimed_at = _when(task.get("claimed_at"))
    last = claimed_at
    for event in detail.get("events") or []:
        kind = str(event.get("type") or "")
        if kind in SIGN_OF_LIFE or "heartbeat" in kind:
            at = _when(event.get("created_at"))
            # Events from before this claim belong to an earlier holder.
            if at is not None and (claimed_at is None or at >= claimed_at) and (last is None or at > last):
                last = at
    try:
        elsewhere = engine.claim_elsewhere(task)
    except (LanesError, OSError) as exc:
        elsewhere = one_line(f"another host's supervisor could not be read: {exc}", 300)
    return BreakInfo(
        task_id=task_id,
        holder=one_line(str(task.get("claim_owner") or ""), 120),
        elsewhere=elsewhere,
        claimed_at=claimed_at,
        lease_expires_at=_when(task.get("lease_expires_at")),
        last_heartbeat=last,
        ours=ours,
        as_of=now,
    )


def describe(info: BreakInfo, now: datetime) -> Text:
    """The evidence for one task, as plain Text (every string in it is sanitised)."""
    text = Text()
    text.append(one_line(info.task_id, 120), "bold")
    text.append("\n  holder     ", "dim")
    text.append(info.holder or "unknown")
    text.append("\n  claimed    ", "dim")
    text.append(f"{fmt.age(info.claimed_at, now)} ago" if info.claimed_at else "unknown")
    text.append("\n  lease      ", "dim")
    if info.lease_expires_at is None:
        text.append("unknown")
    else:
        left = fmt.left(info.lease_expires_at, now)
        text.append(left if left == "expired" else f"{left} left", "bold" if left == "expired" else "")
    text.append("\n  heartbeat  ", "dim")
    text.append(f"{fmt.age(info.last_heartbeat, now)} ago" if info.last_heartbeat else "none seen")
    if info.ours:
        text.append("\n  our worker will be stopped first", "bold")
    if info.elsewhere:
        text.append("\n  elsewhere  ", "dim")
        text.append(info.elsewhere, "bold")
    if info.problem:
        text.append("\n  ! ", "bold")
        text.append(one_line(info.problem, 300))
    return text


class BreakModal(ModalScreen[str | None]):
    """Returns the reason (non-empty, one line) to break with, or None."""

    DEFAULT_CSS = "BreakModal {" + DIALOG_CSS + """
        & #infos { height: auto; max-height: 12; }
        & .info { margin-bottom: 1; }
        & #reason-row { height: auto; }
        & #reason-row Label { width: 8; padding-top: 0; }
        & #reason { width: 1fr; }
    }"""
    BINDINGS = [Binding("escape", "close", "Cancel", id="break.cancel")]
    AUTO_FOCUS = "#reason"

    def __init__(self, infos: list[BreakInfo]) -> None:
        super().__init__()
        self._infos = list(infos)

    def compose(self) -> ComposeResult:
        now = self._now()
        count = len(self._infos)
        with Vertical(id="dialog"):
            yield Static(Text(f"Break the claim of {count} task(s)? They go back to the queue."), id="title", markup=False)
            with VerticalScroll(id="infos"):
                for info in self._infos:
                    yield Static(describe(info, now), classes="info", markup=False)
            with Horizontal(id="reason-row"):
                yield Label("Reason", markup=False)
                yield Input(DEFAULT_REASON, id="reason", compact=True)
            error = Static("", id="error", classes="error")
            error.display = False
            yield error
            with Horizontal(classes="buttons"):
                yield Button("Break", variant="error", id="break")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.set_interval(1.0, self._redraw)  # ages and the lease countdown move while the operator reads

    def _redraw(self) -> None:
        now = self._now()
        for info, static in zip(self._infos, self.query(".info").results(Static)):
            static.update(describe(info, now))

    def _now(self) -> datetime:
        clock = getattr(self.app, "now", None)  # the dashboard's clock (fixed in snapshot tests)
        if callable(clock):
            return clock()
        stamps = [info.as_of for info in self._infos if info.as_of is not None]
        return stamps[0] if stamps else datetime.now(UTC)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()  # not the dashboard's filter box
        self._confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "break":
            self._confirm()
        else:
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)

    def _confirm(self) -> None:
        reason = one_line(self.query_one("#reason", Input).value, 500)
        if not reason:
            error = self.query_one("#error", Static)
            error.update(Text("a reason is required: it is recorded in the audit event"))
            error.display = True
            self.query_one("#reason", Input).focus()
            return
        self.dismiss(reason)


def _when(value: Any) -> datetime | None:
    try:
        return parse_ts(value)
    except ValueError:
        return None
