"""The built-in demo agent speaks claude stream-json well enough for the real parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from lanes_tui.core.sanitize import is_clean
from lanes_tui.vendors import demo_agent
from lanes_tui.vendors.streams import Activity, Outcome, make_parser, parse_stream

PROMPT = "Fix the crash in src/app.py when the input is empty.\nKeep the API unchanged.\n"
CLAUDE_FLAGS = ["-p", "--output-format", "stream-json", "--verbose", "--model", "demo"]
TIMEOUT = 30


def run_demo(prompt: str | bytes, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    data = prompt.encode() if isinstance(prompt, str) else prompt
    return subprocess.run([sys.executable, "-m", "lanes_tui.vendors.demo_agent", *args], input=data,
                          capture_output=True, timeout=TIMEOUT, env=env)


def test_demo_run_parses_to_an_answer():
    proc = run_demo(PROMPT, "--fast", *CLAUDE_FLAGS)
    assert proc.returncode == 0, proc.stderr
    events, summary = parse_stream("claude", vendor="demo", lines=proc.stdout.splitlines())
    assert summary.outcome is Outcome.ANSWERED and summary.plain_lines == 0
    assert summary.vendor == "demo" and summary.model == "demo"
    assert summary.session_id and summary.cost_usd == 0.0
    assert summary.tokens_in > 0 and summary.tokens_out > 0 and summary.turns == 3
    assert summary.tool_calls == 2
    activities = [e.text for e in events if isinstance(e, Activity)]
    assert "Read: src/app.py" in activities and "Grep: TODO" in activities
    answer = summary.final_answer
    assert "Task: Fix the crash in src/app.py when the input is empty." in answer
    assert "Looked at: src/app.py" in answer and "simulated" in answer


def test_demo_output_is_a_function_of_the_prompt():
    first, second = (run_demo(PROMPT, "--fast") for _ in range(2))
    other = run_demo("Something else", "--fast")

    def summary(proc):
        return parse_stream("claude", vendor="demo", lines=proc.stdout.splitlines())[1]

    assert summary(first).session_id == summary(second).session_id != summary(other).session_id
    assert summary(first).final_answer == summary(second).final_answer
    assert summary(first).tokens_in == summary(second).tokens_in


def test_demo_delay_env_zero_is_fast():
    began = time.monotonic()
    proc = run_demo(PROMPT, env={**os.environ, "DEMO_AGENT_DELAY": "0"})
    assert proc.returncode == 0, proc.stderr
    assert parse_stream("claude", vendor="demo", lines=proc.stdout.splitlines())[1].outcome is Outcome.ANSWERED
    assert time.monotonic() - began < 1.0  # the default pauses alone take 1.75 s


@pytest.mark.parametrize(("raw", "delay"), [
    (None, demo_agent.DEFAULT_DELAY), ("0", 0.0), ("0.1", 0.1), ("abc", demo_agent.DEFAULT_DELAY),
    ("nan", demo_agent.DEFAULT_DELAY), ("-3", 0.0), ("inf", demo_agent.MAX_DELAY), ("1e9", demo_agent.MAX_DELAY),
])
def test_configured_delay(raw, delay):
    assert demo_agent.configured_delay(raw) == delay


def test_demo_default_pauses_show_progress_within_two_seconds():
    env = {k: v for k, v in os.environ.items() if k != "DEMO_AGENT_DELAY"}
    proc = subprocess.Popen([sys.executable, "-m", "lanes_tui.vendors.demo_agent"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env)
    try:
        proc.stdin.write(PROMPT.encode())
        proc.stdin.close()
        parser = make_parser("claude", vendor="demo")
        arrivals = []
        for line in proc.stdout:
            parser.feed(line)
            arrivals.append(time.monotonic())
        assert proc.wait(TIMEOUT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(TIMEOUT)
        proc.stdout.close()
    spread = arrivals[-1] - arrivals[0]
    # Events spread out so a dashboard sees progress (1.75 s by design; loose bound for loaded CI).
    assert 1.0 <= spread <= 4.0
    assert parser.summary.outcome is Outcome.ANSWERED


def test_demo_empty_prompt_fails_like_claude():
    proc = run_demo(" \n", "--fast")
    assert proc.returncode == 1 and proc.stdout == b"" and b"Input must be provided" in proc.stderr


def test_demo_hostile_prompt_stays_raw_in_the_answer_and_clean_in_activity():
    hostile = "\x1b]52;c;aGk=\x07 read \u202eevil/fi\u202cle.py\n[@click=app.quit]x[/]"
    proc = run_demo(hostile.encode() + b"\xff", "--fast")
    assert proc.returncode == 0
    events, summary = parse_stream("claude", vendor="demo", lines=proc.stdout.splitlines())
    assert summary.outcome is Outcome.ANSWERED
    assert "\x1b]52" in summary.final_answer  # raw in the answer: the UI sanitises at display
    assert all(is_clean(e.text) for e in events if isinstance(e, Activity))


@pytest.mark.parametrize(("prompt", "expected"), [
    ("Please fix src/app.py now", "src/app.py"),
    ("see docs/guide-1.md and README.md", "docs/guide-1.md"),
    ("e.g. look at setup.cfg", "setup.cfg"),
    ("version 1.2.3 is broken", "README.md"),
    ("", "README.md"),
])
def test_first_file(prompt, expected):
    assert demo_agent.first_file(prompt) == expected


def test_demo_agent_imports_only_the_standard_library():
    code = ("import sys, lanes_tui.vendors.demo_agent\n"
            "def heavy():\n"
            "    return sorted(m for m in sys.modules\n"
            "                  if m.split('.')[0] in {'textual', 'rich', 'yaml', 'watchfiles'} or m.startswith('lanes_tui.core') or (m.startswith('lanes_tui.vendors.') and m != 'lanes_tui.vendors.demo_agent'))\n"
            "print(heavy())\n"
            "import lanes_tui.vendors.streams, yaml\n"  # positive control: the check does see these
            "assert 'lanes_tui.vendors.streams' in heavy() and 'yaml' in heavy()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_build_events_in_process_matches_the_stream_format():
    events = demo_agent.build_events(PROMPT, session_id="s-1")
    parser = make_parser("claude", vendor="demo")
    for event in events:
        parser.feed(json.dumps(event))
    assert parser.summary.session_id == "s-1"
    assert parser.summary.final_answer == demo_agent.answer_for(PROMPT)
