"""The queue for programs: submit, claim, answer and follow tasks from Python.

    from lanes_tui.client import Client

    with Client.open("handoff/handoff.yaml") as queue:
        task = queue.submit(lane="review", prompt="Review this change", request="change.diff")
        claim = queue.claim_next("review", owner="my-worker")
        if claim is not None:
            queue.complete(claim.task.id, claim.token, success=True, result="looks right")
        answer = queue.wait(task.id, timeout=600)

`AsyncClient` offers the same verbs as coroutines, and `subscribe()` as an async
iterator. Both work on the same store as the CLI, the dashboard, the supervisor
and agent-lanes: every change goes through the store's verbs (fencing, at most one
answer, events agent-lanes understands), and what they return are the typed values
of `lanes_tui.core.model`. Errors are the CLI's (`lanes_tui.core.errors`: each has
the `exit_code` the CLI would use).
"""

from __future__ import annotations

import asyncio
import os
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterator

from lanes_tui.core.errors import ConfigError, InvalidInput, NotFound
from lanes_tui.core.handoff import RuntimeConfig, load_config
from lanes_tui.core.lifecycle import lease_expired
from lanes_tui.core.model import FAILED, Answer, Claim, Task, TaskState
from lanes_tui.core.paths import expand_user
from lanes_tui.engine.submitting import Submission, submit
from lanes_tui.storage import open_store
from lanes_tui.vendors.runcheck import check_run_metadata

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend

DEFAULT_CONFIG = "handoff/handoff.yaml"
DEFAULT_LEASE_SECONDS = 900.0
FOREVER = 365 * 86400.0  # `wait` without a timeout


class Client:
    """Blocking calls; one instance may be used from one thread at a time."""

    def __init__(self, store: Backend, config: RuntimeConfig | None = None, *, identity: str = "client") -> None:
        self.store = store
        self.config = config
        self.identity = identity  # recorded as the source of submits and the author of operator verbs

    @classmethod
    def open(cls, config: str | os.PathLike[str] | None = None, *, store: str | os.PathLike[str] | None = None,
             identity: str = "client") -> "Client":
        """On a handoff.yaml (submitting needs one), or on a bare store folder."""
        if config is None and store is not None:
            root = expand_user(store, "store")
            if not root.is_dir():
                raise NotFound(f"no queue at {root}")
            return cls(open_store(root), None, identity=identity)
        loaded = load_config(config or DEFAULT_CONFIG, store_override=store)
        return cls(open_store(loaded.store_location), loaded, identity=identity)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Nothing is held between calls; here for `with`."""

    # -- submitting and reading -------------------------------------------------------

    def submit(self, *, lane: str, prompt: str = "", request: str | os.PathLike[str] | None = None,
               response: str | os.PathLike[str] | None = None, metadata: dict[str, Any] | None = None,
               task_file: str | os.PathLike[str] | None = None, title: str = "") -> Task:
        """Queue a task (`title`: what the dashboard's rows call it). Without `request`, the prompt
        is written to a request file in the workspace; without `response`, an answer file is
        named beside it (as the dashboard's form does). Metadata no vendor configured here can
        run is refused (InvalidInput)."""
        if self.config is None:
            raise ConfigError("submitting needs the queue's handoff.yaml (Client.open(config=...))")
        sub = Submission(lane=lane, prompt=prompt, task_file=os.fspath(task_file or ""),
                         request=os.fspath(request or ""), response=os.fspath(response or ""),
                         title=title, metadata=dict(metadata or {}))
        # Relative paths are relative to the workspace, wherever the program runs.
        task = submit(self.store, self.config, sub, source_agent=self.identity, base=self.config.workspace_root,
                      generate=True, check=self._check)
        return Task.from_wire(task)

    def task(self, task_id: str) -> Task:
        """The task as it stands (after roll-forward of an answer whose task.json lags, G8)."""
        return Task.from_wire(self.store.effective_task(task_id))

    def pending(self, lane: str) -> list[Task]:
        """The lane's tasks that can be claimed now (queued, or claimed with an expired lease), oldest first."""
        now = self.store.now()
        return [Task.from_wire(t) for t in self.store.live_tasks(lane=lane).tasks
                if t["state"] == TaskState.QUEUED or lease_expired(t, now)]

    def answer(self, task_id: str) -> Answer | None:
        response = self.store.read_response(task_id)
        return Answer.from_wire(response) if response is not None else None

    # -- working a task ---------------------------------------------------------------

    def claim(self, task_id: str, *, owner: str, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Claim:
        task = self.store.claim(task_id, owner=owner, lease_seconds=_positive(lease_seconds, "lease_seconds"))
        return Claim(Task.from_wire(task), task["claim_token"])

    def claim_next(self, lane: str, *, owner: str, lease_seconds: float = DEFAULT_LEASE_SECONDS,
                   vendor: str | None = None) -> Claim | None:
        """Claim the lane's next claimable task, or None when there is none (never waits)."""
        from lanes_tui.engine.waiting import wait_for_lane_task

        result = wait_for_lane_task(self.store, lane, timeout=0.0, vendor=vendor, claim_owner=owner,
                                    lease_seconds=_positive(lease_seconds, "lease_seconds"))
        if result.task is None or result.claim_token is None:
            return None
        return Claim(Task.from_wire(result.task), result.claim_token)

    def renew(self, task_id: str, claim_token: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS) -> Task:
        return Task.from_wire(self.store.renew(task_id, claim_token=claim_token,
                                               lease_seconds=_positive(lease_seconds, "lease_seconds")))

    def complete(self, task_id: str, claim_token: str, *, success: bool = True, result: str = "",
                 error: str | None = None, metadata: dict[str, Any] | None = None) -> Answer:
        """Record the answer (success) or the failure and its reason (not success: `error`),
        at most once and only by the current holder (G4, G7)."""
        if success and error is not None:
            raise InvalidInput("complete: an error is for success=False")
        if not success and not (error or "").strip():
            raise InvalidInput("complete: success=False needs an error saying what went wrong")
        body = result if success else str(error)
        response = self.store.respond(task_id, body=body, reviewer=self.identity, claim_token=claim_token,
                                      status="completed" if success else FAILED, metadata=dict(metadata or {}))
        return Answer.from_wire(response)

    def release(self, task_id: str, claim_token: str, *, reason: str = "released by the holder") -> Task:
        return Task.from_wire(self.store.release(task_id, claim_token=claim_token, reason=reason))

    def cancel(self, task_id: str, *, reason: str = "cancelled") -> Task:
        return Task.from_wire(self.store.cancel(task_id, by=self.identity, reason=reason))

    # -- waiting ----------------------------------------------------------------------

    def wait(self, task_id: str, *, timeout: float | None = None) -> Answer | None:
        """Block until the task is answered or failed (file-change notifications, no polling);
        None if `timeout` seconds pass first."""
        from lanes_tui.engine.waiting import wait_for_answer

        self.store.read_task(task_id)  # an unknown id fails now, not after the timeout
        limit = FOREVER if timeout is None else _positive(timeout, "timeout", zero=True)
        if wait_for_answer(self.store, task_id, timeout=limit) is None:
            return None
        return self.answer(task_id)

    def subscribe(self, *, lane: str | None = None) -> Iterator[Task]:
        """The lane's unfinished tasks as they are now, then each task as it changes, for ever
        (see AsyncClient.subscribe). A blocking generator: close it, or break out of the loop."""
        loop = asyncio.new_event_loop()
        changes = AsyncClient(self.store, self.config, identity=self.identity).subscribe(lane=lane)
        try:
            while True:
                yield loop.run_until_complete(changes.__anext__())
        finally:
            loop.run_until_complete(changes.aclose())
            loop.close()

    # -- inside -----------------------------------------------------------------------

    def _check(self, lane: str, metadata: dict[str, Any]) -> None:
        from lanes_tui.settings import load_settings

        assert self.config is not None
        settings = load_settings(None, config_dir=self.config.path.parent)
        check_run_metadata(settings.vendors, lane=lane, lane_preset=settings.lane(lane).permissions,
                           metadata=metadata, default_vendor=settings.default_vendor)


class AsyncClient:
    """The same verbs as coroutines (the store's blocking work runs in threads)."""

    def __init__(self, store: Backend, config: RuntimeConfig | None = None, *, identity: str = "client") -> None:
        self._sync = Client(store, config, identity=identity)

    @classmethod
    def open(cls, config: str | os.PathLike[str] | None = None, *, store: str | os.PathLike[str] | None = None,
             identity: str = "client") -> "AsyncClient":
        opened = Client.open(config, store=store, identity=identity)
        return cls(opened.store, opened.config, identity=identity)

    async def __aenter__(self) -> "AsyncClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._sync.close()

    @property
    def store(self) -> Backend:
        return self._sync.store

    async def submit(self, **kwargs: Any) -> Task:
        return await asyncio.to_thread(self._sync.submit, **kwargs)

    async def task(self, task_id: str) -> Task:
        return await asyncio.to_thread(self._sync.task, task_id)

    async def pending(self, lane: str) -> list[Task]:
        return await asyncio.to_thread(self._sync.pending, lane)

    async def answer(self, task_id: str) -> Answer | None:
        return await asyncio.to_thread(self._sync.answer, task_id)

    async def claim(self, task_id: str, **kwargs: Any) -> Claim:
        return await asyncio.to_thread(self._sync.claim, task_id, **kwargs)

    async def claim_next(self, lane: str, **kwargs: Any) -> Claim | None:
        return await asyncio.to_thread(self._sync.claim_next, lane, **kwargs)

    async def renew(self, task_id: str, claim_token: str, **kwargs: Any) -> Task:
        return await asyncio.to_thread(self._sync.renew, task_id, claim_token, **kwargs)

    async def complete(self, task_id: str, claim_token: str, **kwargs: Any) -> Answer:
        return await asyncio.to_thread(self._sync.complete, task_id, claim_token, **kwargs)

    async def release(self, task_id: str, claim_token: str, **kwargs: Any) -> Task:
        return await asyncio.to_thread(self._sync.release, task_id, claim_token, **kwargs)

    async def cancel(self, task_id: str, **kwargs: Any) -> Task:
        return await asyncio.to_thread(self._sync.cancel, task_id, **kwargs)

    async def wait(self, task_id: str, *, timeout: float | None = None) -> Answer | None:
        return await asyncio.to_thread(self._sync.wait, task_id, timeout=timeout)

    async def subscribe(self, *, lane: str | None = None) -> AsyncIterator[Task]:
        """The lane's unfinished tasks as they are now, then every task of the lane as it changes,
        for ever (submitted, claimed, answered..., by anyone). Changes that land together are
        reported together: what you get is the task as it stands when it is read. Kept current by
        the in-memory index the supervisor uses, with its periodic rescan as the safety net."""
        from lanes_tui.engine.feed import follow, load_and_arm
        from lanes_tui.engine.index import IndexChange, TaskIndex

        index = TaskIndex(self.store)
        feed = await load_and_arm(index, self.store)  # the supervisor's start-up: scan, then arm
        changes: asyncio.Queue[IndexChange] = asyncio.Queue()
        # follow() starts with a scan of its own: it reports only what changed since ours.
        runner = asyncio.create_task(follow(index, feed, changes.put_nowait))
        try:
            now = [s.id for s in index.tasks() if (lane is None or s.lane == lane)
                   and s.state in (TaskState.QUEUED, TaskState.CLAIMED)]
            for task_id in now:
                task = await self._read(task_id)
                if task is not None:
                    yield task
            while True:
                change = await changes.get()
                for task_id in sorted(change.changed):
                    summary = index.get(task_id)
                    if summary is None or (lane is not None and summary.lane != lane):
                        continue
                    task = await self._read(task_id)
                    if task is not None:
                        yield task
        finally:
            feed.close()
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    async def _read(self, task_id: str) -> Task | None:
        try:
            return Task.from_wire(await asyncio.to_thread(self.store.effective_task, task_id))
        except NotFound:
            return None  # archived or removed meanwhile


def _positive(value: float, name: str, *, zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value \
            or value in (float("inf"), float("-inf")) or value < 0 or (value == 0 and not zero):
        raise InvalidInput(f"{name} must be a finite number {'>= 0' if zero else '> 0'}, not {value!r}")
    return float(value)


__all__ = ["AsyncClient", "Answer", "Claim", "Client", "Task", "TaskState"]
