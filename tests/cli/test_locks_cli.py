"""`lock` / `unlock` / `locks` / `break-lock` through the real CLI: exit codes, waiting, all-or-nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from lanes_tui.storage.files.coordination import file_locks

LANES_TUI = [sys.executable, "-m", "lanes_tui"]


def cli(workspace, *args, agent=None, timeout=30):
    env = {k: v for k, v in os.environ.items() if k != "LANES_AGENT_ID"}
    if agent:
        env["LANES_AGENT_ID"] = agent
    return subprocess.run([*LANES_TUI, "--config", str(workspace.config), *args], cwd=workspace.root,
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_held_by_someone_else_is_exit_9_and_names_the_holder(workspace):
    (workspace.root / "a.py").write_text("x")
    first = cli(workspace, "lock", "a.py", "--reason", "refactor", agent="alice")
    assert first.returncode == 0 and first.stdout.startswith("locked path:a.py token 1")
    second = cli(workspace, "lock", str(workspace.root / "a.py"), "--as", "bob")
    assert second.returncode == 9
    assert second.stderr.startswith("lanes-tui: path:a.py is locked by alice until ") and "(refactor)" in second.stderr
    listed = json.loads(cli(workspace, "--json", "locks").stdout)
    assert [(lock["key"], lock["owner"], lock["stale"]) for lock in listed["locks"]] == [("path:a.py", "alice", None)]
    assert cli(workspace, "unlock", "a.py", agent="bob").returncode == 1  # not bob's
    assert cli(workspace, "unlock", "a.py", agent="alice").returncode == 0
    assert cli(workspace, "lock", "a.py", agent="bob").returncode == 0


def test_several_paths_are_all_or_nothing(workspace):
    assert cli(workspace, "lock", "b.py", agent="alice").returncode == 0
    result = cli(workspace, "lock", "a.py", "b.py", "c.py", agent="bob")
    assert result.returncode == 9
    owners = {s.record.key: s.record.owner for s in file_locks(workspace.store_root).states()}
    assert owners == {"path:b.py": "alice"}  # bob's a.py was given back


def test_wait_gets_the_lock_when_it_is_released_and_times_out_otherwise(workspace):
    assert cli(workspace, "lock", "--name", "deploy", agent="alice").returncode == 0
    started = time.monotonic()
    timed_out = cli(workspace, "lock", "--name", "deploy", "--wait", "0.5", agent="bob")
    assert timed_out.returncode == 9 and time.monotonic() - started >= 0.5
    env = {**os.environ, "LANES_AGENT_ID": "bob"}
    waiter = subprocess.Popen([*LANES_TUI, "--config", str(workspace.config), "--json", "lock", "--name", "deploy",
                               "--wait", "30"], cwd=workspace.root, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
    try:
        # Another agent's bounded attempt runs meanwhile: the lock is still alice's, so the waiter
        # (started before it) cannot have finished; whenever it looks, it must keep waiting.
        assert cli(workspace, "lock", "--name", "deploy", "--wait", "0.3", agent="carol").returncode == 9
        assert waiter.poll() is None
        assert cli(workspace, "unlock", "--name", "deploy", agent="alice").returncode == 0
        out, err = waiter.communicate(timeout=20)
    finally:
        waiter.kill()
    assert waiter.returncode == 0, err
    assert json.loads(out)["locks"][0]["owner"] == "bob"


def test_break_lock_needs_a_reason_and_fences_the_holder(workspace):
    held = json.loads(cli(workspace, "--json", "lock", "x.py", agent="alice").stdout)["locks"][0]
    assert cli(workspace, "break-lock", "x.py").returncode == 64  # --reason is required
    broken = cli(workspace, "break-lock", "x.py", "--reason", "stuck agent", "--as", "carol")
    assert broken.returncode == 0
    event = [json.loads(line) for line in (workspace.store_root / "locks" / "events.jsonl").read_text().splitlines()][-1]
    assert (event["type"], event["by"], event["reason"]) == ("broken", "operator:carol", "stuck agent")
    assert cli(workspace, "unlock", "x.py", "--token", str(held["token"]), agent="alice").returncode == 1
    assert cli(workspace, "break-lock", "x.py", "--reason", "again").returncode == 4


def test_bad_input_is_one_line_with_its_exit_code(workspace):
    cases = [
        (("lock", "/etc/passwd"), "alice", 5, "outside the workspace"),
        (("lock", "../../../x"), "alice", 5, "outside the workspace"),
        (("lock", "a.py"), None, 64, "--as NAME"),
        (("lock", "a.py", "--ttl", "nan"), "alice", 64, "finite"),
        (("lock", "a.py", "--ttl", "0"), "alice", 64, "> 0"),
        (("lock", "--name", "a b"), "alice", 5, "a lock name"),
        (("lock", "a.py"), "operator:mallory", 5, "reserved"),
        (("lock", "a.py", "--reason", "r" * 501), "alice", 5, "at most 500"),
        (("lock", "a.py"), "evil\x1b[2J", 5, "control characters"),
    ]
    for args, agent, code, message in cases:
        result = cli(workspace, *args, agent=agent)
        assert result.returncode == code, (args, result.stderr)
        assert message in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert file_locks(workspace.store_root).states() == []


@pytest.mark.parametrize("pid", ["0", "-1", "-4242", "4194305", "99999999999999999999", "12abc"])
def test_lock_pid_must_name_a_process(workspace, pid):
    """Issue 10: `--pid 0` or a negative number was accepted (to kill(2) those name process groups)."""
    done = workspace.run("lock", "src/a.py", "--as", "alice", "--pid", pid)
    assert done.returncode == 64 and "process id" in done.stderr and done.stderr.count("\n") == 1
    assert not (workspace.store_root / "locks").exists()
