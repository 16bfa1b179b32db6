"""A task on a PostgreSQL queue carries its request (issue 14, "paths do not cross hosts"): the
content submitted is kept in the database, so a host without the submitter's file runs the task
on exactly what was submitted, and an edit of the file after the submit changes nothing (on a
file store the task would go stale: tests/storage/test_contract.py). On a real server."""

from __future__ import annotations

import psycopg
import pytest

from lanes_tui.core.errors import InvalidInput
from lanes_tui.storage.copying import copy_queue
from lanes_tui.storage.files.backend import FileBackend
from lanes_tui.vendors.prompting import build_input

from .test_contract import submit

SUBMITTED = "# the request as submitted\nline two\n"


@pytest.fixture
def backend(postgres_url):
    from lanes_tui.storage.postgres import PostgresBackend

    store = PostgresBackend(postgres_url)
    yield store
    store.close()


def carried_rows(postgres_url) -> int:
    with psycopg.connect(postgres_url) as conn:
        return conn.execute("SELECT count(*) FROM lanes_tui.requests").fetchone()[0]


@pytest.mark.parametrize("then", ["deleted", "edited"])
def test_a_task_runs_on_the_request_submitted_wherever_its_file_went(backend, workspace, then):
    workspace.request.write_text(SUBMITTED)
    by_id, by_next = (submit(backend, workspace, correlation_id=name) for name in ("a", "b"))
    if then == "deleted":  # a host that never had the file looks the same
        workspace.request.unlink()
    else:
        workspace.request.write_text("edited after the submit\n")
    assert backend.request_problem(by_id) is None
    claimed = backend.claim(by_id["id"], owner="w", lease_seconds=60)
    assert claimed["claim_token"]
    picked = backend.next_task("default", candidates=[], claim_owner="w", lease_seconds=60)
    assert picked.task["id"] == by_next["id"] and picked.stale == ()
    assert backend.request_content(claimed) == SUBMITTED.encode()
    prompt = build_input(backend, claimed).decode()
    assert SUBMITTED in prompt and "edited" not in prompt and "could not be read" not in prompt


def test_tasks_on_one_artifact_share_one_stored_request(backend, workspace, postgres_url):
    for n in range(5):
        submit(backend, workspace, correlation_id=f"c{n}")
    other = workspace.root / "other.md"
    other.write_text("another artifact\n")
    backend.create_task(workspace_id="ws", correlation_id="o", source_agent="t", lane="default",
                        workspace_root=workspace.root, request_path=other, response_path=workspace.root / "o.md",
                        prompt="p")
    assert carried_rows(postgres_url) == 2


def test_a_request_too_big_to_carry_is_refused_and_nothing_is_queued(backend, workspace, monkeypatch, postgres_url):
    from lanes_tui.storage.postgres import backend as backend_module

    monkeypatch.setattr(backend_module, "MAX_REQUEST_BYTES", 8)
    with pytest.raises(InvalidInput, match="more than a shared queue carries"):
        submit(backend, workspace)
    assert backend.task_ids() == [] and carried_rows(postgres_url) == 0


def test_a_copied_task_carries_its_request_only_while_the_file_is_the_one_submitted(
        backend, workspace, postgres_url):
    files = FileBackend(workspace.store_root)
    workspace.request.write_text(SUBMITTED)
    kept = submit(files, workspace, correlation_id="kept")
    other = workspace.root / "gone.md"
    other.write_text("soon gone\n")
    gone = files.create_task(workspace_id="ws", correlation_id="gone", source_agent="t", lane="default",
                             workspace_root=workspace.root, request_path=other, response_path=workspace.root / "g.md",
                             prompt="p")
    other.unlink()  # (the copy itself refuses nothing for it: the task goes as it is)
    copy_queue(files, backend)
    workspace.request.write_text("edited after the copy\n")
    assert backend.request_content(backend.read_task(kept["id"])) == SUBMITTED.encode()
    assert backend.request_problem(backend.read_task(kept["id"])) is None
    # Nothing to carry: the task goes by the file, as it would have on the file store.
    problem = backend.request_problem(backend.read_task(gone["id"]))
    assert problem is not None and "missing" in problem
