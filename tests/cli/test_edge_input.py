"""Input that used to crash or mislead, from issue 10's fuzz and soak: each is one line, a distinct
exit code, and nothing written (or, for output that cannot be written, no failure reported
for a task that was created: a caller would retry and make a duplicate)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lanes_tui.core.errors import InvalidInput
from lanes_tui.core.jsonvalue import json_value
from lanes_tui.core.paths import expand_user

LANES_TUI = [sys.executable, "-m", "lanes_tui"]


def one_line(done: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("lanes-tui: ")
    return done.stderr.strip()


def task_count(workspace) -> int:
    return len(workspace.store().task_ids())


@pytest.mark.parametrize("args, code", [
    (["submit", "--lane", "a", "--prompt", "p", "--request-from", "~nosuchuser-lanes/r.md", "--response-to", "o.md"], 5),
    (["--store", "~nosuchuser-lanes/state", "list"], 5),
    (["submit", "--task", "~nosuchuser-lanes/t.yaml"], 5),  # the argument is at fault, not a file's content
    (["--config", "~nosuchuser-lanes/handoff.yaml", "list"], 6),
])
def test_a_home_folder_that_cannot_be_expanded_is_an_input_error(workspace, args, code):
    if args[0] == "--config":
        done = subprocess.run([*LANES_TUI, *args], capture_output=True, text=True, cwd=workspace.root, timeout=60)
    else:
        done = workspace.run(*args)
    assert done.returncode == code
    assert "cannot expand '~nosuchuser-lanes' (no such user, or no home folder)" in one_line(done)
    assert task_count(workspace) == 0


@pytest.mark.parametrize("value, message", [
    (".nan", "metadata.v must be a finite number, not nan"),
    ("-.inf", "metadata.v must be a finite number, not -inf"),
    ("2026-12-01", "metadata.v is a date, which JSON has no type for"),
    ("!!binary aGVsbG8=", "metadata.v is a bytes, which JSON has no type for"),
    ("!!set {a, b}", "metadata.v is a set, which JSON has no type for"),
    ("{1: one}", "metadata.v has a key that is not a string: '1'"),
    ("[1, [2, .inf]]", "metadata.v[1][1] must be a finite number, not inf"),
])
def test_task_file_values_json_has_no_type_for_are_refused_naming_the_key(workspace, value, message):
    path = workspace.root / "task.yaml"
    path.write_text(f"lane: a\nprompt: p\nrequest_from: {workspace.request}\nresponse_to: out.md\n"
                    f"metadata:\n  v: {value}\n", encoding="utf-8")
    done = workspace.run("submit", "--task", str(path))
    assert done.returncode == 6
    assert message in one_line(done)
    assert task_count(workspace) == 0


def test_the_api_refuses_them_too():
    assert json_value({"a": [1, "x", None, True, 2.5]}, "metadata") == {"a": [1, "x", None, True, 2.5]}
    for bad in (float("nan"), {1: "x"}, {"a": {1, 2}}, 1 << 70, b"raw"):
        with pytest.raises(InvalidInput, match="^metadata"):
            json_value(bad, "metadata")
    with pytest.raises(InvalidInput, match="nested more than 64 levels"):
        deep: list = []
        probe = deep
        for _ in range(70):
            probe.append([])
            probe = probe[0]
        json_value(deep, "metadata")
    with pytest.raises(InvalidInput, match="contains a NUL byte"):
        expand_user("a\x00b")


@pytest.mark.parametrize("response", [".", "sub"])
def test_a_response_path_that_is_a_folder_is_refused(workspace, response):
    """Issue 10: `--response-to .` was accepted; a later `wait` wrote its temporary file outside."""
    (workspace.root / "sub").mkdir()
    done = workspace.run("submit", "--lane", "a", "--prompt", "p", "--request-from", str(workspace.request),
                         "--response-to", response)
    assert done.returncode == 5 and "response_path is a folder, not a file" in one_line(done)
    assert task_count(workspace) == 0


def test_submit_whose_output_cannot_be_written_still_reports_success(workspace):
    """Issue 10: a submit that failed to print its answer exited non-zero after creating the task,
    so a caller that retries makes duplicates. Now: exit 0, and the id on stderr."""
    with open("/dev/full", "w") as full:
        done = subprocess.run([*LANES_TUI, "--config", str(workspace.config), "submit", "--lane", "a", "--prompt",
                               "p", "--request-from", str(workspace.request), "--response-to", "out.md", "--json"],
                              stdout=full, stderr=subprocess.PIPE, text=True, cwd=workspace.root, timeout=60)
    assert done.returncode == 0
    (task_id,) = workspace.store().task_ids()
    assert one_line(done) == (f"lanes-tui: submitted {task_id}, but its output could not be written: "
                              "No space left on device")
    assert json.loads((workspace.store_root / "tasks" / task_id / "task.json").read_text())["state"] == "queued"
