"""The supervisor runs tasks on the stand-in agents: what reaches the agent, what is recorded.

Real store, real subprocesses (the parent-death guard and the stand-in CLI),
synchronised on supervisor events. Covers the happy path (answer, metadata,
events), stdin content with request artifact and thread context, the exact
argv (row 22), the allow-listed environment (row 23), the codex path and big
prompts on stdin (row 21).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

import pytest
from helpers.standins import STANDIN_SCRIPT
from helpers.supervisor import (
    event_types,
    events_of,
    make_settings,
    supervising,
)

from lanes_tui.core import procinfo
from lanes_tui.core.model import COMPLETED, FAILED
from lanes_tui.engine import events as ev

CLAUDE_ARGV = ["-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages", "--model"]
READ_ONLY = ["--permission-mode", "dontAsk", "--disallowedTools", "Write,Edit,MultiEdit,NotebookEdit"]


def install_tee(bin_dir: Path) -> None:
    """`claude` and `codex` that keep a byte-exact copy of their stdin, then run the stand-in on it."""
    for vendor in ("claude", "codex"):
        wrapper = bin_dir / vendor
        wrapper.write_text(
            "#!/bin/sh\n"
            'cat > "$STANDIN_STDIN_COPY.tmp" && mv "$STANDIN_STDIN_COPY.tmp" "$STANDIN_STDIN_COPY" || exit 97\n'
            f'exec {shlex.quote(sys.executable)} {shlex.quote(str(STANDIN_SCRIPT))} {vendor} "$@" < "$STANDIN_STDIN_COPY"\n',
            encoding="utf-8",
        )
        wrapper.chmod(0o755)


async def test_happy_path_records_answer_metadata_and_dispatcher_events(workspace, standins, monkeypatch):
    monkeypatch.setenv("STANDIN_MODE", "slow")
    monkeypatch.setenv("STANDIN_DELAY", "0.15")  # ~1 s of output: the lease is renewed meanwhile
    settings = make_settings(workspace, lane={"renew_seconds": 0.25})
    task = workspace.submit(prompt="Fix the parser")
    store = workspace.store()
    async with supervising(store, settings) as h:
        done = await h.events.wait_for(ev.TaskCompleted, task["id"])
        started = h.events.of(ev.WorkerStarted, task["id"])
        assert len(started) == 1 and started[0].vendor == "claude" and started[0].attempt == 1
        assert h.events.of(ev.LeaseRenewed, task["id"])
        record = h.supervisor.records[task["id"]]
        assert record.state == COMPLETED and record.attempts == 1

    response = store.read_response(task["id"])
    assert response["status"] == COMPLETED
    assert response["body"].startswith("Stand-in claude answer.")
    meta = response["metadata"]
    assert meta["model_used"] == "claude-sonnet-5"
    assert "model_reported" not in meta  # the stream names the model that was passed
    assert meta["effort_used"] is None  # none asked for, none passed: the CLI's default applied
    assert meta["permissions"] == "read-only"
    assert meta["tokens_in"] == 10 + 4529 + 28397  # input + cache creation + cache read
    assert (meta["tokens_cache_write"], meta["tokens_cache_read"], meta["tokens_reasoning"]) == (4529, 28397, 0)
    assert meta["tokens_out"] == 248
    assert meta["cost_usd"] == pytest.approx(0.0336477) and meta["cost_estimated"] is False
    assert meta["api_retries"] == 0 and "permission_denials" not in meta
    assert isinstance(meta["duration_ms"], int) and meta["duration_ms"] >= 500
    assert meta["vendor"] == "claude" and meta["attempt"] == 1
    assert done.tokens_out == 248 and done.cost_usd == pytest.approx(0.0336477)

    types = event_types(store, task["id"])
    order = ["claimed", "dispatcher_started", "headless_started", "renewed", "headless_completed", "response"]
    positions = [types.index(t) for t in order]
    assert positions == sorted(positions), types
    assert types.count("claimed") == 1 and types.count("response") == 1
    started_event = events_of(store, task["id"], "dispatcher_started")[0]
    assert started_event["data"]["vendor"] == "claude" and started_event["data"]["owner"] == h.supervisor.owner
    assert store.read_task(task["id"])["state"] == COMPLETED
    log = store.root / ".lanes-tui" / "logs" / task["id"] / "attempt-1.log"
    assert b'"type":"result"' in log.read_bytes()
    # Logs hold prompts and output: private all the way down (issue 10: logs/ was 0755).
    for folder in (log.parent, log.parent.parent):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    assert log.stat().st_mode & 0o777 == 0o600


async def test_stdin_holds_prompt_request_and_thread_argv_and_env_are_exact(workspace, standins, monkeypatch, tmp_path):
    install_tee(standins)
    dump, copy = tmp_path / "dump.json", tmp_path / "stdin.bin"
    monkeypatch.setenv("STANDIN_MODE", "dump")
    monkeypatch.setenv("STANDIN_DUMP_FILE", str(dump))
    monkeypatch.setenv("STANDIN_STDIN_COPY", str(copy))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-do-not-leak")
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key-not-for-claude")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "anthropic-key-for-claude")
    workspace.request.write_text("# request\nREQUEST-ARTIFACT-BODY-7731\n", encoding="utf-8")
    store = workspace.store()
    # A parent answered by someone else: its answer is the thread context.
    parent = workspace.submit(prompt="parent question", name="parent", metadata={"required_vendor": "someone-else"})
    claimed = store.claim(parent["id"], owner="human", lease_seconds=60)
    store.respond(parent["id"], body="PARENT-ANSWER-5512", reviewer="human", claim_token=claimed["claim_token"])
    child = workspace.submit(prompt="CHILD-PROMPT-9034", name="child", metadata={
        "parent_task_id": parent["id"], "thread_id": "thread-42", "model_class": "opus", "effort": "high"})

    settings = make_settings(workspace)
    async with supervising(store, settings) as h:
        await h.events.wait_for(ev.TaskCompleted, child["id"])
        assert not h.events.of(ev.WorkerStarted, parent["id"])

    data = json.loads(dump.read_text())
    stdin = copy.read_bytes()
    assert data["stdin_sha256"] == hashlib.sha256(stdin).hexdigest() and data["stdin_len"] == len(stdin)
    text = stdin.decode()
    assert text.startswith("CHILD-PROMPT-9034\n")  # effort is a flag now, not a prompt hint
    assert f"--- request artifact ({workspace.request.resolve()}) ---" in text
    assert "REQUEST-ARTIFACT-BODY-7731" in text
    assert "--- thread context (thread_id=thread-42) ---" in text
    assert f">>> task {parent['id']} response:\nPARENT-ANSWER-5512" in text
    assert text.index("CHILD-PROMPT") < text.index("REQUEST-ARTIFACT") < text.index("PARENT-ANSWER")

    assert data["argv"] == [*CLAUDE_ARGV, "claude-opus-4-8", "--effort", "high", *READ_ONLY]
    env = data["env"]
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "OPENAI_API_KEY" not in env  # another vendor's key is not claude's business
    assert env["ANTHROPIC_API_KEY"] == "anthropic-key-for-claude"
    assert env["LANES_TASK_ID"] == child["id"]
    assert env["LANES_AGENT_ID"] == f"{h.supervisor.owner}/{child['id']}"
    assert env["PATH"].split(os.pathsep)[0] == str(standins)
    # The vendor's fixed variables: the supervisor, not Claude Code's default, decides API retries.
    assert env["CLAUDE_CODE_MAX_RETRIES"] == "2" and env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    # A private TMPDIR per attempt (not the shared /tmp itself), gone once the attempt ended.
    assert Path(env["TMPDIR"]).name.startswith("lanes-tui-") and len(env["TMPDIR"]) < 80
    assert not Path(env["TMPDIR"]).exists()
    response = store.read_response(child["id"])
    assert response["metadata"]["model_used"] == "claude-opus-4-8" and response["metadata"]["effort_used"] == "high"


@pytest.mark.parametrize("field,value", [
    ("model_class", "$(touch x)"),
    ("model_class", "; rm -rf ~"),
    ("effort", "--dangerously-skip-permissions"),
    ("required_vendor", "claude --dangerously-skip-permissions"),
])
async def test_injection_through_metadata_fails_the_task_and_runs_nothing(workspace, standins, monkeypatch, tmp_path, field, value):
    dump = tmp_path / "dump.json"
    monkeypatch.setenv("STANDIN_MODE", "dump")
    monkeypatch.setenv("STANDIN_DUMP_FILE", str(dump))
    monkeypatch.chdir(workspace.root)
    task = workspace.submit(metadata={field: value})
    ok = workspace.submit(name="ok", metadata={"model_class": "haiku", "effort": "low"})
    store = workspace.store()
    async with supervising(store, make_settings(workspace), drain=field != "required_vendor") as h:
        await h.events.wait_for(ev.TaskCompleted, ok["id"])
        if field == "required_vendor":
            # An unknown vendor name may be served by an outside dispatcher: it waits, visibly.
            waiting = await h.events.wait_for(ev.TaskWaiting, task["id"])
            assert "is not configured here" in waiting.reason
        else:
            failed = await h.events.wait_for(ev.TaskFailed, task["id"])
            assert f"unknown {field}" in failed.reason and repr(value) in failed.reason
            assert store.read_task(task["id"])["state"] == FAILED
            assert f"unknown {field}" in store.read_task(task["id"])["failure_reason"]
    assert not h.events.of(ev.WorkerStarted, task["id"])
    assert "headless_started" not in event_types(store, task["id"])
    assert json.loads(dump.read_text())["argv"] == [*CLAUDE_ARGV, "claude-haiku-4-5", *READ_ONLY]  # only the ok task ran
    assert not (workspace.root / "x").exists() and not (Path.cwd() / "x").exists()


async def test_codex_vendor_path(workspace, standins, monkeypatch, tmp_path):
    dump = tmp_path / "dump.json"
    monkeypatch.setenv("STANDIN_MODE", "dump")
    monkeypatch.setenv("STANDIN_DUMP_FILE", str(dump))
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "anthropic-key-not-for-codex")
    task = workspace.submit(prompt="codex please", metadata={"required_vendor": "codex", "effort": "xhigh",
                                                             "model_class": "luna"})
    store = workspace.store()
    async with supervising(store, make_settings(workspace)) as h:
        done = await h.events.wait_for(ev.TaskCompleted, task["id"])
        assert h.events.of(ev.WorkerStarted, task["id"])[0].vendor == "codex"
    data = json.loads(dump.read_text())
    assert data["vendor"] == "codex"
    assert data["argv"] == ["exec", "--json", "-m", "gpt-6-luna", "-c", "model_reasoning_effort=xhigh",
                            "-s", "read-only", "-c", "approval_policy=never", "-C", str(workspace.root),
                            "--skip-git-repo-check", "-"]
    assert data["env"]["OPENAI_API_KEY"] == "openai-key" and "ANTHROPIC_API_KEY" not in data["env"]
    assert data["env"]["RUST_LOG"] == "error,codex_sandboxing=warn"
    response = store.read_response(task["id"])
    assert response["body"].startswith("Stand-in codex answer.")
    meta = response["metadata"]
    assert meta["tokens_out"] == 122 and meta["tokens_in"] == 24763 and meta["tokens_cache_read"] == 24448
    # Codex reports no cost: the price table's estimate, marked as one (gpt-6-luna: $0.10 in,
    # $0.01 cached, $0.50 out per million tokens).
    expected = ((24763 - 24448) * 0.10 + 24448 * 0.01 + 122 * 0.50) / 1e6
    assert meta["cost_usd"] == pytest.approx(expected) and meta["cost_estimated"] is True
    assert meta["model_used"] == "gpt-6-luna"
    assert meta["effort_used"] == "xhigh" and meta["vendor"] == "codex"
    assert done.tokens_out == 122 and done.cost_usd == pytest.approx(expected)


@pytest.mark.parametrize("size", [1 << 20, 20 << 20], ids=["1MB", "20MB"])
async def test_big_prompt_reaches_the_agent_intact_and_never_argv(workspace, standins, monkeypatch, tmp_path, size):
    install_tee(standins)
    dump, copy = tmp_path / "dump.json", tmp_path / "stdin.bin"
    monkeypatch.setenv("STANDIN_MODE", "dump")
    monkeypatch.setenv("STANDIN_DUMP_FILE", str(dump))
    monkeypatch.setenv("STANDIN_STDIN_COPY", str(copy))
    prompt = "PROMPTHEAD-" + os.urandom(size // 2).hex()[: size - 22] + "-PROMPTTAIL"
    task = workspace.submit(prompt=prompt)
    store = workspace.store()
    cmdlines: list[bytes] = []

    def on_event(event):
        # The guard is alive while it feeds a big stdin: read its argv (and its child's) now.
        if isinstance(event, ev.WorkerStarted):
            for pid in [event.pid, *_children(event.pid)]:
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as handle:
                        cmdlines.append(handle.read())
                except OSError:
                    pass

    async with supervising(store, make_settings(workspace, lane={"timeout_seconds": 30})) as h:
        h.events.listeners.append(on_event)
        await h.events.wait_for(ev.TaskCompleted, task["id"], timeout=60)
    stdin = copy.read_bytes()
    data = json.loads(dump.read_text())
    assert data["stdin_len"] == len(stdin) and data["stdin_sha256"] == hashlib.sha256(stdin).hexdigest()
    assert stdin.startswith(prompt.encode() + b"\n\n")
    assert cmdlines, "the worker's argv could not be read"
    for argv in [*cmdlines, "\0".join(data["argv"]).encode()]:
        assert b"PROMPTHEAD" not in argv and b"PROMPTTAIL" not in argv and len(argv) < 4096
    response = store.read_response(task["id"])
    assert f"prompt: {len(stdin)} bytes, sha256 {hashlib.sha256(stdin).hexdigest()}" in response["body"]


def _children(pid: int) -> list[int]:
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            fields = procinfo._stat_fields(int(name))
            if fields and len(fields) > 1 and int(fields[1]) == pid:
                found.append(int(name))
    return found
