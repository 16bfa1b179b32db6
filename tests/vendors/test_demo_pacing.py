"""The demo agent's longer, paced script: still Claude stream-json every line of which the real
parser and transcript read, and the pace it was given is the pace it reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from lanes_tui.vendors import demo_agent
from lanes_tui.vendors.stream_base import Activity, PlainOutput
from lanes_tui.vendors.streams import Outcome, make_parser
from lanes_tui.vendors.transcript import TranscriptBuilder

PROMPT = "Review docs/guide.md for broken links.\nList each one.\n"


def run_agent(*args: str, delay: str | None = None) -> list[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "DEMO_AGENT_DELAY"}
    if delay is not None:
        env["DEMO_AGENT_DELAY"] = delay
    proc = subprocess.run([sys.executable, "-m", "lanes_tui.vendors.demo_agent", *args], input=PROMPT.encode(),
                          capture_output=True, env=env, timeout=30)
    assert proc.returncode == 0 and proc.stderr == b"", proc.stderr
    return proc.stdout.splitlines()


def test_every_line_is_claude_stream_json_the_parser_reads():
    lines = run_agent("--fast")
    parser = make_parser("claude", vendor="demo")
    events = [event for line in lines for event in parser.feed(line)]
    assert not [e for e in events if isinstance(e, PlainOutput)]  # no line left unread
    summary = parser.summary
    assert summary.outcome is Outcome.ANSWERED and summary.final_answer == demo_agent.answer_for(PROMPT)
    result = json.loads(lines[-1])
    assert result["type"] == "result" and summary.turns == result["num_turns"] == 3 and summary.plain_lines == 0
    # The running totals end where the result's totals say (each message's usage counted once).
    assert summary.tokens_out == result["usage"]["output_tokens"]
    shown = [e.text for e in events if isinstance(e, Activity)]
    assert shown[0].startswith("thinking: ")
    assert {"Read: docs/guide.md", "Grep: TODO", "Now a search for TODO notes."} <= set(shown)


def test_the_transcript_shows_thinking_messages_tool_calls_and_results():
    entries = TranscriptBuilder().feed_all(run_agent("--fast"))
    kinds = [entry.kind for entry in entries]
    assert kinds.count("thinking") == 3 and kinds.count("tool") == 2 and kinds.count("result") == 2
    assert kinds.count("message") == 3 and kinds[0] == "session"
    heads = [entry.head for entry in entries if entry.kind == "result"]
    assert heads == ["result of Read: docs/guide.md", "result of Grep: TODO"]


@pytest.mark.parametrize(("args", "delay", "reported"), [
    ((), "0.001", 0.001), (("--fast",), "3", 0.0), ((), "junk", demo_agent.DEFAULT_DELAY), ((), "0", 0.0),
])
def test_the_agent_reports_the_pace_it_runs_at(args, delay, reported):
    init = json.loads(run_agent(*args, delay=delay)[0])
    assert init["type"] == "system" and init["subtype"] == "init"
    assert init["demo_seconds_per_beat"] == reported


def test_a_run_at_the_tour_pace_gives_time_to_watch_it():
    beats = [beats for beats, _event in demo_agent.script(PROMPT)]
    assert beats[0] == 0 and all(b > 0 for b in beats[1:])  # every event after the first is paced
    # Two tasks run one after the other in the demo (the delegation waits for the question).
    assert 15 <= sum(beats) * demo_agent.TOUR_DELAY <= 22
    assert 1 <= sum(beats) * demo_agent.DEFAULT_DELAY <= 3  # the quick pace stays quick
    assert demo_agent.build_events(PROMPT) == [event for _beats, event in demo_agent.script(PROMPT)]
