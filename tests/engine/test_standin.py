"""The stand-in `claude`/`codex` executables behave as each STANDIN_MODE promises.

Every mode runs as a real subprocess found through PATH, in its own session
(as the supervisor will start workers), and its stdout is parsed with
lanes_tui.vendors.streams. Waits are bounded by timeouts; nothing sleeps to
synchronise: the tests learn that a stand-in is ready by reading its output.
"""

from __future__ import annotations

import hashlib
import json
import os
import selectors
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from helpers.standins import DEFAULT_ARGS, STANDIN_SCRIPT, install_standins, standin_env

from lanes_tui.vendors.streams import (
    Outcome,
    make_parser,
    mentions_rate_limit,
    parse_stream,
)

VENDORS = ["claude", "codex"]
PROMPT = b"Fix the bug in src/app.py\nIt crashes on empty input.\n"
TIMEOUT = 30


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    return install_standins(tmp_path / "bin")


@pytest.fixture
def started():
    """Processes a test started; any still running at teardown are killed with their group."""
    procs: list[subprocess.Popen] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(TIMEOUT)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream:
                stream.close()


def start(started, bin_dir: Path, vendor: str, mode: str, args: list[str] | None = None,
          prompt: bytes | None = PROMPT, cwd: Path | None = None, **knobs) -> subprocess.Popen:
    env = standin_env(bin_dir, mode, **knobs)
    exe = shutil.which(vendor, path=env["PATH"])
    assert exe == str(bin_dir / vendor)  # found through PATH, like the real CLI
    proc = subprocess.Popen([vendor, *(DEFAULT_ARGS[vendor] if args is None else args)], env=env, cwd=cwd,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    started.append(proc)
    if prompt is not None:
        proc.stdin.write(prompt)
        proc.stdin.close()
    return proc


def run(started, bin_dir: Path, vendor: str, mode: str = "ok", args: list[str] | None = None,
        prompt: bytes = PROMPT, cwd: Path | None = None, **knobs) -> subprocess.CompletedProcess:
    proc = start(started, bin_dir, vendor, mode, args, prompt=None, cwd=cwd, **knobs)
    out, err = proc.communicate(prompt, timeout=TIMEOUT)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def read_line(proc: subprocess.Popen, timeout: float = TIMEOUT) -> bytes:
    """One stdout line, read from the raw fd so that a hanging writer cannot block us."""
    fd = proc.stdout.fileno()
    data = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while b"\n" not in data:
            left = deadline - time.monotonic()
            assert left > 0, f"no complete line within {timeout}s: {data[:200]!r}"
            if selector.select(left):
                chunk = os.read(fd, 1)  # byte by byte: nothing past the newline is consumed
                assert chunk, f"EOF before a complete line: {data[:200]!r}"
                data += chunk
    return data


def parse(vendor: str, stdout: bytes):
    return parse_stream(vendor, stdout.splitlines(keepends=True))


def still_running_after(proc: subprocess.Popen, seconds: float) -> bool:
    """A bounded negative check: the process did not exit within `seconds`."""
    try:
        proc.wait(seconds)
    except subprocess.TimeoutExpired:
        return True
    return False


# --- installation -------------------------------------------------------------------------


def test_wrappers_are_executables_running_this_interpreter(bin_dir):
    for vendor in VENDORS:
        wrapper = bin_dir / vendor
        assert os.access(wrapper, os.X_OK)
        assert str(STANDIN_SCRIPT) in wrapper.read_text()
    assert STANDIN_SCRIPT.is_file()


def test_standin_env_prepends_path_and_sets_knobs(bin_dir):
    env = standin_env(bin_dir, "slow", base={"PATH": "/usr/bin", "STANDIN_EXIT": "9"}, delay=0.1)
    assert env == {"PATH": f"{bin_dir}{os.pathsep}/usr/bin", "STANDIN_MODE": "slow", "STANDIN_DELAY": "0.1"}


# --- successful runs ---------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_ok_emits_a_complete_parseable_stream(started, bin_dir, vendor):
    proc = run(started, bin_dir, vendor, "ok", SESSION_ID="sess-123")
    assert proc.returncode == 0, proc.stderr
    events, summary = parse(vendor, proc.stdout)
    assert summary.outcome is Outcome.ANSWERED
    assert summary.plain_lines == 0
    assert summary.session_id == "sess-123"
    assert summary.tokens_in > 0 and summary.tokens_out > 0
    assert (summary.cost_usd or 0) > 0 if vendor == "claude" else summary.cost_usd is None
    assert summary.tool_calls == 1 and summary.activity
    digest = hashlib.sha256(PROMPT).hexdigest()
    assert f"prompt: {len(PROMPT)} bytes, sha256 {digest}" in summary.final_answer
    assert "first line: Fix the bug in src/app.py" in summary.final_answer


@pytest.mark.parametrize("vendor", VENDORS)
def test_answer_knob_and_exit_override(started, bin_dir, vendor):
    proc = run(started, bin_dir, vendor, "ok", ANSWER="forty-two", EXIT=3)
    assert proc.returncode == 3
    assert parse(vendor, proc.stdout)[1].final_answer == "forty-two"


def test_claude_model_comes_from_argv(started, bin_dir):
    proc = run(started, bin_dir, "claude", "ok", args=[*DEFAULT_ARGS["claude"], "--model", "claude-opus-4-1"])
    assert parse("claude", proc.stdout)[1].model == "claude-opus-4-1"


@pytest.mark.parametrize("vendor", VENDORS)
def test_slow_spaces_its_lines(started, bin_dir, vendor):
    delay = 0.05
    began = time.monotonic()
    proc = run(started, bin_dir, vendor, "slow", DELAY=delay)
    elapsed = time.monotonic() - began
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0
    assert parse(vendor, proc.stdout)[1].outcome is Outcome.ANSWERED
    assert elapsed >= delay * (len(lines) - 1)


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_rate_limit(started, bin_dir, vendor):
    proc = run(started, bin_dir, vendor, "rate_limit")
    assert proc.returncode == 1
    parser = make_parser(vendor)
    parser.feed_all(proc.stdout.splitlines())
    for line in proc.stderr.splitlines():
        parser.feed_stderr(line)
    assert parser.summary.outcome is Outcome.RATE_LIMITED
    assert parser.summary.final_answer is None
    if vendor == "codex":
        assert mentions_rate_limit(proc.stderr)


@pytest.mark.parametrize("vendor", VENDORS)
def test_error_result(started, bin_dir, vendor):
    proc = run(started, bin_dir, vendor, "error_result")
    assert proc.returncode == 1
    summary = parse(vendor, proc.stdout)[1]
    assert summary.outcome is Outcome.FAILED and summary.error and not summary.rate_limited
    if vendor == "claude":
        assert summary.error == "error_max_turns"


@pytest.mark.parametrize("vendor", VENDORS)
def test_no_result_exits_zero_without_an_answer(started, bin_dir, vendor):
    proc = run(started, bin_dir, vendor, "no_result")
    assert proc.returncode == 0
    summary = parse(vendor, proc.stdout)[1]
    assert summary.final_answer is None and summary.outcome is Outcome.INCOMPLETE
    assert summary.session_id and summary.last_message


@pytest.mark.parametrize("vendor", VENDORS)
def test_crash_mid_output_dies_by_sigkill_with_a_torn_line(started, bin_dir, vendor):
    proc = run(started, bin_dir, vendor, "crash_mid_output")
    assert proc.returncode == -signal.SIGKILL
    assert proc.stdout and not proc.stdout.endswith(b"\n")  # torn last line
    summary = parse(vendor, proc.stdout)[1]
    assert summary.session_id and summary.final_answer is None
    assert summary.plain_lines == 1  # the torn line is not JSON


# --- processes that do not end by themselves -------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_hang_prints_a_line_then_blocks_until_sigterm(started, bin_dir, vendor):
    proc = start(started, bin_dir, vendor, "hang")
    first = read_line(proc)
    assert make_parser(vendor).feed(first)[0].session_id  # the stream's first event
    assert still_running_after(proc, 0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(TIMEOUT) == -signal.SIGTERM


def sigterm_ignored(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    return bool(mask & (1 << (signal.SIGTERM - 1)))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
@pytest.mark.parametrize("vendor", VENDORS)
def test_ignore_sigterm_survives_sigterm_and_dies_by_sigkill(started, bin_dir, vendor):
    proc = start(started, bin_dir, vendor, "ignore_sigterm")
    read_line(proc)  # printed only after SIGTERM was set to ignored
    assert sigterm_ignored(proc.pid)
    os.killpg(proc.pid, signal.SIGTERM)
    assert still_running_after(proc, 0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait(TIMEOUT) == -signal.SIGKILL


def test_hang_control_sigterm_is_not_ignored(started, bin_dir):
    # Control for the test above: the mask check does see the difference.
    proc = start(started, bin_dir, "claude", "hang")
    read_line(proc)
    assert not sigterm_ignored(proc.pid)


@pytest.mark.parametrize("vendor", VENDORS)
def test_grandchild_keeps_stdout_open_after_the_standin_exits(started, bin_dir, vendor):
    proc = start(started, bin_dir, vendor, "grandchild_holds_stdout", GRANDCHILD_SECONDS=60)
    parser = make_parser(vendor)
    while parser.summary.final_answer is None:  # the whole stream arrives...
        parser.feed(read_line(proc))
    assert proc.wait(TIMEOUT) == 0  # ...and the stand-in exits...
    try:
        # ...but its process group lives on (the grandchild), holding stdout open:
        # a reader waiting for EOF would wait 60 s.
        os.killpg(proc.pid, 0)
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout.fileno(), selectors.EVENT_READ)
            assert selector.select(0.3) == []  # no EOF yet
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
    assert proc.stdout.read() == b""  # EOF once the group is gone
    assert b"grandchild pid" in proc.stderr.read()


# --- volume ------------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_flood_then_result(started, bin_dir, vendor):
    proc = run(started, bin_dir, vendor, "flood", FLOOD_MB=8, FLOOD_LINE_KB=64)
    assert proc.returncode == 0
    assert len(proc.stdout) >= 8 << 20
    lines = proc.stdout.splitlines()
    assert len(lines) > 100 and max(map(len, lines)) < 70 * 1024
    summary = parse(vendor, proc.stdout)[1]
    assert summary.outcome is Outcome.ANSWERED and summary.plain_lines == 0


@pytest.mark.parametrize(("vendor", "kind"), [("claude", "json"), ("codex", "json"), ("claude", "plain")])
def test_huge_line_then_result(started, bin_dir, vendor, kind):
    proc = run(started, bin_dir, vendor, "huge_line", HUGE_KIND=kind)
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert max(map(len, lines)) >= 20 << 20
    summary = parse(vendor, proc.stdout)[1]
    assert summary.outcome is Outcome.ANSWERED
    assert summary.plain_lines == (1 if kind == "plain" else 0)


# --- inputs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("vendor", VENDORS)
def test_dump_records_argv_env_and_stdin_hash(started, bin_dir, vendor, tmp_path):
    prompt = os.urandom(1 << 20) + "é\u202e".encode()  # 1 MB, not even valid UTF-8
    dump = tmp_path / "dump.json"
    args = [*DEFAULT_ARGS[vendor], "--model", "m-1"]
    proc = run(started, bin_dir, vendor, "dump", args=args, prompt=prompt, DUMP_FILE=dump, SECRET_MARKER="s3")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(dump.read_text())
    assert data["vendor"] == vendor and data["argv"] == args
    assert data["stdin_len"] == len(prompt)
    assert data["stdin_sha256"] == hashlib.sha256(prompt).hexdigest()
    assert data["env"]["STANDIN_SECRET_MARKER"] == "s3"
    assert parse(vendor, proc.stdout)[1].outcome is Outcome.ANSWERED
    assert not list(tmp_path.glob("dump.json.*"))  # no temp file left behind


def test_a_20_mb_prompt_arrives_intact(started, bin_dir):
    prompt = b"p" * (20 << 20)
    proc = run(started, bin_dir, "claude", "ok", prompt=prompt)
    answer = parse("claude", proc.stdout)[1].final_answer
    assert f"prompt: {len(prompt)} bytes, sha256 {hashlib.sha256(prompt).hexdigest()}" in answer


@pytest.mark.parametrize("vendor", VENDORS)
def test_empty_prompt_is_an_error_like_the_real_cli(started, bin_dir, vendor):
    proc = run(started, bin_dir, vendor, "ok", prompt=b"  \n")
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr.strip()


@pytest.mark.parametrize(("vendor", "args", "status", "message"), [
    ("claude", ["--output-format", "stream-json", "--verbose"], 2, b"without -p"),
    ("claude", ["-p", "--output-format", "stream-json"], 1, b"requires --verbose"),
    ("claude", ["-p", "--output-format", "yaml"], 1, b"is invalid"),
    ("codex", ["--json", "-"], 2, b"codex exec"),
])
def test_wrong_argv_fails_like_the_real_cli(started, bin_dir, vendor, args, status, message):
    proc = run(started, bin_dir, vendor, "ok", args=args)
    assert proc.returncode == status and message in proc.stderr and proc.stdout == b""


def test_claude_json_and_text_output_formats(started, bin_dir):
    proc = run(started, bin_dir, "claude", "ok", args=["-p", "--output-format", "json"], ANSWER="A")
    (line,) = proc.stdout.splitlines()
    assert json.loads(line)["type"] == "result" and json.loads(line)["result"] == "A"
    proc = run(started, bin_dir, "claude", "ok", args=["-p"], ANSWER="plain answer")
    assert proc.stdout == b"plain answer\n"


def test_codex_without_json_prints_the_last_message_and_writes_o_file(started, bin_dir, tmp_path):
    out_file = tmp_path / "last.txt"
    proc = run(started, bin_dir, "codex", "ok", args=["exec", "-o", str(out_file), "-"], ANSWER="done")
    assert proc.returncode == 0 and proc.stdout == b"done\n"
    assert out_file.read_text() == "done"


def test_codex_resume_uses_the_given_thread(started, bin_dir):
    proc = run(started, bin_dir, "codex", "ok", args=["exec", "resume", "thread-9", "--json", "-"])
    assert parse("codex", proc.stdout)[1].session_id == "thread-9"


def test_unknown_mode_is_refused(started, bin_dir):
    proc = run(started, bin_dir, "claude", "explode")
    assert proc.returncode == 64 and b"unknown STANDIN_MODE" in proc.stderr
