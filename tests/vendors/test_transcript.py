"""The lossless transcript (vendors/transcript.py) and its reading from attempt logs on disk
(engine/attempt_transcript.py), on the stream formats of the real CLIs (issue 12, point 2)."""

from __future__ import annotations

import json
from pathlib import Path

from lanes_tui.engine.attempt_transcript import AttemptLog, TaskTranscript
from lanes_tui.vendors.process import OutputLog
from lanes_tui.vendors.transcript import FOLDED_LINES, TranscriptBuilder

CAPTURED = Path(__file__).resolve().parent / "captured"


def claude_lines() -> list[str]:
    """A Claude Code run (stream-json): a multi-line message, thinking, an Edit, a Bash call with a
    long result, an API retry, a denial and the final result."""
    items = [
        {"type": "system", "subtype": "init", "session_id": "s-1", "model": "claude-sonnet-4-5"},
        {"type": "assistant", "message": {"id": "m1", "content": [
            {"type": "thinking", "thinking": "t1\nt2\nt3\nt4\nt5"},
            {"type": "text", "text": "Plan:\n1. read\n2. edit\n3. third"}]}},
        {"type": "assistant", "message": {"id": "m2", "content": [
            {"type": "tool_use", "id": "tu1", "name": "Edit",
             "input": {"file_path": "app.py", "old_string": "x = 1\n", "new_string": "x = 2\n"}},
            {"type": "tool_use", "id": "tu2", "name": "Bash", "input": {"command": "pytest -q"}}]}},
        {"type": "user", "message": {"content": [
            {"type": "tool_result", "tool_use_id": "tu2", "content": "\n".join(f"out {i}" for i in range(10))}]}},
        {"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 10, "retry_delay_ms": 8000,
         "error_status": 529, "error": "overloaded"},
        {"type": "result", "subtype": "success", "result": "All done.\nSecond line.", "num_turns": 2,
         "total_cost_usd": 0.0123, "usage": {"input_tokens": 10, "output_tokens": 20},
         "permission_denials": [{"tool_name": "Write", "tool_input": {"file_path": "/etc/passwd"}}]},
    ]
    return [json.dumps(item) for item in items]


def shown(builder: TranscriptBuilder, unfold: bool = False) -> list[str]:
    return [line for entry in builder.entries for line in entry.lines(unfold)]


def test_claude_messages_tool_calls_edits_retries_denials_and_the_result_are_all_there():
    builder = TranscriptBuilder()
    builder.feed_all(claude_lines())
    lines = shown(builder)
    text = "\n".join(lines)
    # The whole message, not its last line.
    assert "    Plan:\n    1. read\n    2. edit\n    3. third" in text
    # Thinking folded to its first lines, with the count of the rest.
    assert "    t3\n    \u2026 2 more line(s) (z: unfold)" in text and "t4" not in text
    # The edit as a diff; the command, its result folded and named after its call.
    assert "\u270e Edit: app.py" in text and "    -x = 1\n    +x = 2" in text
    assert "\u2022 Bash: pytest -q" in text and "    $ pytest -q" in text
    assert "\u21b3 result of Bash: pytest -q" in text and "out 2" in text and "out 3" not in text
    assert "\u21bb API 529: retry 1/10 in 8 s" in text
    assert "\u2717 denied Write: /etc/passwd" in text
    assert "$0.0123" in text and "\u2713 final result\n    All done.\n    Second line." in text
    # Unfolded, nothing is held back.
    unfolded = "\n".join(shown(builder, unfold=True))
    assert "t5" in unfolded and "out 9" in unfolded and "more line(s)" not in unfolded


def test_codex_items_are_read_too():
    items = [
        {"type": "thread.started", "thread_id": "th-1"},
        {"type": "item.completed", "item": {"type": "reasoning", "text": "look first"}},
        {"type": "item.completed", "item": {"type": "command_execution", "command": "bash -lc 'ls -la'",
                                            "aggregated_output": "a\nb\n", "exit_code": 0, "status": "completed"}},
        {"type": "item.completed", "item": {"type": "file_change", "changes": [{"kind": "update", "path": "x.py"}]}},
        {"type": "item.completed", "item": {"type": "agent_message", "text": "Done:\n- one\n- two"}},
        {"type": "error", "message": "Reconnecting... 2/5"},
        {"type": "turn.completed", "usage": {"input_tokens": 5, "output_tokens": 6}},
    ]
    builder = TranscriptBuilder()
    builder.feed_all(json.dumps(item) for item in items)
    text = "\n".join(shown(builder))
    assert "\u2022 $ ls -la (exit 0)\n    a\n    b" in text
    assert "\u270e edit files\n    update x.py" in text
    assert "    Done:\n    - one\n    - two" in text
    assert "\u21bb Reconnecting... 2/5" in text


def test_captured_real_cli_output_reads_without_errors_and_keeps_the_denials():
    for path in sorted(CAPTURED.glob("*.jsonl")):
        builder = TranscriptBuilder()
        builder.feed_all(path.read_bytes().split(b"\n"))
        assert builder.entries, path.name
        assert not [e for e in builder.entries if e.head.startswith("unreadable event")], path.name
    claude = TranscriptBuilder()
    claude.feed_all((CAPTURED / "claude-read-only-denied.jsonl").read_bytes().split(b"\n"))
    assert any(entry.kind == "denied" for entry in claude.entries)


def test_hostile_text_is_sanitised_on_every_line():
    builder = TranscriptBuilder()
    builder.feed(json.dumps({"type": "assistant", "message": {"content": [
        {"type": "text", "text": "a\x1b]52;c;eA==\x07b\n\u202eevil\r\nc" + "x" * 5000}]}}))
    builder.feed(b"plain \x1b[2J stderr \xff line")
    lines = shown(builder)
    assert all("\x1b" not in line and "\u202e" not in line and "\r" not in line for line in lines)
    assert max(len(line) for line in lines) <= 2004
    assert any("\\x1b]52;c;eA==\\x07b" in line for line in lines)


def test_a_log_is_read_from_its_tail_then_followed(tmp_path):
    path = tmp_path / "attempt-1.log"
    filler = json.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": "f" * 1000}]}})
    with path.open("w") as out:
        for _ in range(20_000):  # about 20 MB
            out.write(filler + "\n")
        out.write(claude_lines()[-1] + "\n")
    log = AttemptLog(1, path)
    entries = log.read_more(tail_bytes=64 << 10)
    assert 0 < log.skipped < path.stat().st_size and log.offset == path.stat().st_size
    assert len(entries) < 100 and entries[-1].kind == "final"  # the tail only, down to the last line
    assert all(not e.head.startswith("{") for e in entries)  # the cut line was dropped, not shown raw
    # Appended later, in two pieces: the unfinished line waits for its end.
    line = claude_lines()[1].encode()
    with path.open("ab") as out:
        out.write(line[:30])
    assert log.read_more() == []
    with path.open("ab") as out:
        out.write(line[30:] + b"\n")
    more = log.read_more()
    assert [e.kind for e in more] == ["thinking", "message"]


def test_a_tasks_attempts_are_shown_in_order_with_only_new_lines_on_update(tmp_path):
    logs = tmp_path / "logs" / "task"
    logs.mkdir(parents=True)
    (logs / "attempt-1.log").write_text(claude_lines()[1] + "\nplain stderr line\n")
    transcript = TaskTranscript(logs / "attempt-1.log")
    first = transcript.update()
    assert first[0] == "\u2500\u2500 attempt 1 \u2500\u2500 attempt-1.log" and "  plain stderr line" in first
    assert transcript.update() == []
    (logs / "attempt-2.log").write_text(claude_lines()[-1] + "\n")
    (logs / "attempt-10.log").write_text("")
    second = transcript.update()
    assert second[0] == "\u2500\u2500 attempt 2 \u2500\u2500 attempt-2.log" and "\u2713 final result" in second
    assert second[-1] == "\u2500\u2500 attempt 10 \u2500\u2500 attempt-10.log"  # numeric order, not by name
    transcript.unfold = True
    assert len(transcript.render()) > len(first) + len(second) - FOLDED_LINES


def test_the_log_interleaves_stdout_and_stderr_by_whole_lines(tmp_path):
    log = OutputLog(tmp_path / "a.log", 1 << 20)
    log.open()
    log.write_lines("stdout", b'{"type": "sys')
    log.write_lines("stderr", b"warning: slow\n")
    log.write_lines("stdout", b'tem"}\nnext')
    log.write_lines("stderr", b"unfinished")
    log.close()
    assert (tmp_path / "a.log").read_bytes() == b'warning: slow\n{"type": "system"}\nnext\nunfinished\n'
