"""`demo --speed FACTOR`: checked like every other argument, and the factor reaches the simulated
agent (which reports the seconds per beat it runs at: seen in the attempt logs, not timed)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lanes_tui.cli import build_parser
from lanes_tui.commands.demo import agent_delay, paced
from lanes_tui.settings import load_settings, worker_environment
from lanes_tui.vendors import demo_agent

LANES_TUI = [sys.executable, "-m", "lanes_tui"]


def demo(tmp_path: Path, *args: str, delay: str | None = None) -> subprocess.CompletedProcess:
    """`lanes-tui demo ARGS`, its scratch queue made under tmp_path (TMPDIR)."""
    env = {k: v for k, v in os.environ.items() if k != "DEMO_AGENT_DELAY"}
    env["TMPDIR"] = str(tmp_path)
    if delay is not None:
        env["DEMO_AGENT_DELAY"] = delay
    return subprocess.run([*LANES_TUI, "demo", *args], cwd=tmp_path, capture_output=True, text=True, env=env,
                          timeout=60)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "-inf", "fast", "", "0.05", "1e9", "2x"])
def test_a_bad_speed_is_a_one_line_usage_error(tmp_path, value):
    result = demo(tmp_path, "--no-ui", f"--speed={value}")  # = : "-inf" is not taken for an option
    assert result.returncode == 64 and result.stdout == ""
    assert result.stderr.startswith("lanes-tui: demo: argument --speed: ") and result.stderr.count("\n") == 1
    assert repr(value) in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []  # refused before any scratch queue was made


def test_good_speeds_parse():
    parse = build_parser().parse_args
    assert parse(["demo"]).speed == 1.0
    assert [parse(["demo", "--speed", v]).speed for v in ("2", "0.5", "0.1", "1000", "1e2")] == [2, 0.5, 0.1, 1000, 100]


def beats_in_the_logs(workspace: Path) -> list[float]:
    """The seconds per beat each attempt's demo agent reported in its init event."""
    logs = sorted(workspace.rglob("attempt-1.log"))
    assert len(logs) == 3, logs  # one per example task
    return [json.loads(log.read_text().splitlines()[0])["demo_seconds_per_beat"] for log in logs]


@pytest.mark.parametrize(("speed", "delay", "expected"), [
    ("1000", None, demo_agent.DEFAULT_DELAY / 1000),  # headless: the quick pace, scaled
    ("500", "0.5", 0.5 / 500),  # DEMO_AGENT_DELAY replaces the pace, --speed still scales it
    ("4", "0", 0.0),
])
def test_the_speed_reaches_every_agent_the_demo_starts(tmp_path, speed, delay, expected):
    result = demo(tmp_path, "--json", "--keep", "--speed", speed, delay=delay)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["status"] == "ok" and {t["state"] for t in payload["tasks"]} == {"completed"}
    workspace = Path(payload["workspace"])
    assert workspace.parent == tmp_path
    assert beats_in_the_logs(workspace) == pytest.approx([expected] * 3)


def test_the_dashboard_gets_the_tour_pace_and_headless_the_quick_one():
    assert agent_delay(1.0, True, {}) == demo_agent.TOUR_DELAY
    assert agent_delay(2.0, True, {}) == demo_agent.TOUR_DELAY / 2
    assert agent_delay(0.5, False, {}) == demo_agent.DEFAULT_DELAY * 2
    assert agent_delay(3.0, True, {"DEMO_AGENT_DELAY": "0.3"}) == pytest.approx(0.1)
    assert agent_delay(1.0, True, {"DEMO_AGENT_DELAY": "junk"}) == demo_agent.DEFAULT_DELAY
    assert agent_delay(0.1, True, {}) <= demo_agent.MAX_DELAY  # the slowest speed is honoured, not clamped
    assert agent_delay(0.1, True, {}) == pytest.approx(demo_agent.TOUR_DELAY * 10)


def test_the_pace_is_set_for_demo_workers_over_our_own_environment():
    settings = paced(load_settings(None, config_dir=None), 0.125)
    env = worker_environment(settings, "demo", {"DEMO_AGENT_DELAY": "9", "PATH": "/bin"},
                             settings.vendor("demo").env_set)
    assert env["DEMO_AGENT_DELAY"] == "0.125"
    assert "DEMO_AGENT_DELAY" not in worker_environment(settings, "claude", {"PATH": "/bin"},
                                                        settings.vendor("claude").env_set)
