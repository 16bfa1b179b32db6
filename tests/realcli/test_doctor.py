"""`lanes-tui doctor` against the real CLIs (their --version and --help), in a loopback-only namespace."""

from __future__ import annotations

import json
import os

from .harness import LANES_TUI

SECRET = "sk-ant-standin"  # the harness's dummy key: it must never be printed


def doctor(agents, *args, env=None):
    box = agents.start([*LANES_TUI, "--config", str(agents.workspace.config), "doctor", *args], {}, env=env)
    code = box.finish()
    assert SECRET not in box.stdout() + box.stderr()
    return box, code


def test_doctor_finds_both_clis_their_versions_flags_and_credentials(agents):
    agents.settings(lanes={"dev": {"permissions": "edit"}, "chat": {"mode": "external"}})
    box, code = doctor(agents, "--json")
    assert code == 0, box.stderr()
    report = json.loads(box.stdout())
    vendors = {v["name"]: v for v in report["vendors"]}
    assert set(vendors) == {"claude", "codex"}  # demo only when it is the default vendor
    assert vendors["claude"]["version"].startswith("2.1.197") and vendors["codex"]["version"] == "codex-cli 0.171.0"
    assert vendors["claude"]["missing_flags"] == [] and vendors["codex"]["missing_flags"] == []
    assert vendors["claude"]["credentials"] == "$ANTHROPIC_API_KEY"
    assert vendors["codex"]["credentials"] == "$OPENAI_API_KEY"  # the key the provider in config.toml names
    lanes = {lane["name"]: lane for lane in report["lanes"]}
    assert lanes["dev"]["permissions"] == "edit" and lanes["dev"]["vendors"] == ["claude", "codex"]
    assert lanes["chat"]["mode"] == "external" and lanes["chat"]["problems"] == []


def test_doctor_names_a_flag_the_installed_version_lacks_and_exits_12(agents):
    agents.settings(vendors={"claude": {"permissions": {"read-only": ["--permission-mode", "dontAsk", "--sandbox-all"]}},
                             "codex": {"enabled": False}})
    box, code = doctor(agents)
    assert code == 12
    lines = box.stderr().splitlines()
    assert "lanes-tui: doctor: claude: 2.1.197 (Claude Code) lacks flag(s) lanes-tui passes: --sandbox-all" in lines
    assert "lanes-tui: doctor: lane default: cannot run: no usable vendor has the 'read-only' preset" in lines
    assert "claude: NOT USABLE" in box.stdout()


def test_doctor_reports_missing_credentials_without_printing_any(agents):
    env = agents.env()
    del env["OPENAI_API_KEY"]
    agents.settings()
    box, code = doctor(agents, env=env)
    assert code == 0  # claude can still run the lane
    assert any(line.startswith("lanes-tui: doctor: codex: no credentials the worker would get")
               for line in box.stderr().splitlines())
    assert "sk-openai-standin" not in box.stdout() + box.stderr()


def test_doctor_says_why_a_trusted_claude_lane_cannot_run_as_root(agents):
    if os.geteuid() != 0:
        return  # Claude Code's refusal is for root only
    agents.settings(lanes={"yolo": {"permissions": "trusted"}}, vendors={"codex": {"enabled": False}})
    box, code = doctor(agents)
    assert code == 12
    assert "refuses its bypass mode as root" in box.stderr() and "IS_SANDBOX=1" in box.stderr()
    assert "lane yolo: internal, trusted  (TRUSTED: the vendors' bypass modes): runs on nothing" in box.stdout()


def test_doctor_without_the_executables(agents):
    env = agents.env(PATH="/usr/bin:/bin")
    agents.settings()
    box, code = doctor(agents, env=env)
    assert code == 12
    assert "lanes-tui: doctor: claude: executable 'claude' not found on PATH" in box.stderr().splitlines()
