"""`lanes-tui doctor`: can the lanes here run their agents? Checked without network.

For each vendor: the executable, its version, whether every flag lanes-tui puts
on its command line is in that version's `--help`, and whether credentials are
configured (a variable the worker would get, or a login file; never printed).
For each lane: its permission preset and the vendors that can run it. One line
per problem; exit 12 when some lane served here cannot run at all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Mapping

from lanes_tui.core.errors import NotFound
from lanes_tui.core.handoff import load_config
from lanes_tui.settings import (
    LaneMode,
    Settings,
    VendorSettings,
    load_settings,
    worker_environment,
)
from lanes_tui.vendors.argv import DEMO, executable_path
from lanes_tui.vendors.permissions import EDIT, TRUSTED

EXIT_LANE_CANNOT_RUN = 12
# Flags the CLI takes although its --help does not list them: `claude --help` (2.1.197) leaves
# out --permission-prompt-tool, which the `ask` preset passes (tests/realcli/test_agent_tools.py
# runs it with the real CLI).
UNLISTED_FLAGS = {"claude": frozenset({"--permission-prompt-tool"})}
PROBE_TIMEOUT = 20.0  # seconds for `--version` / `--help`: a CLI that hangs there is a problem too

# Where each stream format's CLI looks for credentials (variables, then files under its home).
CREDENTIAL_VARIABLES = {
    "claude": ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
               "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX"),
    "codex": ("OPENAI_API_KEY", "CODEX_API_KEY"),
}


@dataclass
class VendorReport:
    name: str
    executable: str | None = None
    version: str | None = None
    missing_flags: list[str] = field(default_factory=list)
    credentials: str | None = None  # where they were found (a variable's name, a file), never the value
    problems: list[str] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        return not self.problems


@dataclass
class LaneReport:
    name: str
    mode: str
    permissions: str
    vendors: list[str]
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # it runs, but not as well as it could


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config, store_override=args.store, settings_path=args.settings)
        config_dir: Path | None = config.path.parent
        lanes = list(config.lanes)
    except NotFound:
        config_dir, lanes = None, []  # no queue here yet: check the built-in settings
    settings = load_settings(args.settings, config_dir=config_dir)
    vendors = [check_vendor(settings, vendor) for vendor in settings.vendors.values()
               if vendor.enabled and (vendor.name != DEMO or settings.default_vendor == DEMO)]
    by_name = {report.name: report for report in vendors}
    names = list(dict.fromkeys([*lanes, *settings.lanes])) or ["default"]
    lane_reports = [check_lane(settings, name, by_name) for name in names]
    problems = [f"{r.name}: {p}" for r in vendors for p in r.problems] + \
               [f"lane {r.name}: {p}" for r in lane_reports for p in (*r.problems, *r.warnings)]
    code = EXIT_LANE_CANNOT_RUN if any(r.problems and not r.vendors for r in lane_reports) else 0
    if getattr(args, "json", False):
        print(json.dumps({"vendors": [{**asdict(r), "usable": r.usable} for r in vendors],
                          "lanes": [asdict(r) for r in lane_reports], "problems": problems, "exit_code": code},
                         indent=2, sort_keys=True))
    else:
        _print_text(vendors, lane_reports)
    for problem in problems:
        print(f"lanes-tui: doctor: {problem}", file=sys.stderr)
    return code


def _print_text(vendors: list[VendorReport], lanes: list[LaneReport]) -> None:
    for r in vendors:
        state = "ok" if r.usable else "NOT USABLE"
        found = r.executable or "not found"
        creds = f", credentials: {r.credentials}" if r.credentials else ""
        print(f"{r.name}: {state}: {found}" + (f" ({r.version})" if r.version else "") + creds)
    for lane in lanes:
        runs = ", ".join(lane.vendors) or "nothing"
        flag = "  (TRUSTED: the vendors' bypass modes)" if lane.permissions == TRUSTED else ""
        print(f"lane {lane.name}: {lane.mode}, {lane.permissions}{flag}: runs on {runs}")


# -- vendors -----------------------------------------------------------------------------


def check_vendor(settings: Settings, vendor: VendorSettings, source_env: Mapping[str, str] | None = None) -> VendorReport:
    report = VendorReport(vendor.name)
    env = worker_environment(settings, vendor, os.environ if source_env is None else source_env, vendor.env_set)
    program = executable_path(vendor)
    if program is None:
        report.problems.append(f"executable {vendor.executable[0]!r} not found"
                               + ("" if os.path.isabs(vendor.executable[0]) else " on PATH"))
        return report
    report.executable = program
    prefix = [program, *vendor.executable[1:]]
    version = _probe([*prefix, "--version"], env)
    if version is None:
        report.problems.append(f"`{Path(program).name} --version` failed or hung")
    else:
        report.version = version.strip().splitlines()[0][:120] if version.strip() else "unknown"
    subcommand = [item for item in _leading_words(vendor.args)]
    help_text = _probe([*prefix, *subcommand, "--help"], env)
    if help_text is None:
        report.problems.append(f"`{' '.join([Path(program).name, *subcommand])} --help` failed or hung")
    else:
        hidden = UNLISTED_FLAGS.get(vendor.stream, frozenset())
        report.missing_flags = [flag for flag in used_flags(vendor)
                                if flag not in hidden and not _mentions(help_text, flag)]
        if report.missing_flags:
            report.problems.append(f"{report.version or 'this version'} lacks flag(s) lanes-tui passes: "
                                   + ", ".join(report.missing_flags))
    report.credentials = find_credentials(vendor, env)
    if report.credentials is None and vendor.name != DEMO:
        names = ", ".join(CREDENTIAL_VARIABLES.get(vendor.stream, ()))
        report.problems.append(f"no credentials the worker would get ({names} or a login file); "
                               "a variable the supervisor has must also be allowed in `environment`")
    return report


def used_flags(vendor: VendorSettings) -> list[str]:
    """Every flag lanes-tui can put on this vendor's command line (args, efforts, presets)."""
    items = list(vendor.args)
    for value in vendor.efforts.values():
        items.extend((value,) if isinstance(value, str) else value)
    for preset in vendor.permissions.values():
        items.extend(preset)
    flags = []
    for item in items:
        if item.startswith("-") and item != "-" and not item.startswith("{"):
            flag = item.split("=", 1)[0]
            if re.fullmatch(r"--?[A-Za-z][A-Za-z0-9-]*", flag) and flag not in flags:
                flags.append(flag)
    return flags


def _leading_words(args: tuple[str, ...]) -> list[str]:
    """`exec` in `codex exec --json ...`: the subcommand whose --help lists the flags."""
    words = []
    for item in args:
        if item.startswith("-") or "{" in item:
            break
        words.append(item)
    return words


def _mentions(help_text: str, flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text) is not None


def _probe(argv: list[str], env: Mapping[str, str]) -> str | None:
    try:
        done = subprocess.run(argv, env=dict(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT, errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def find_credentials(vendor: VendorSettings, env: Mapping[str, str]) -> str | None:
    """Where the worker's CLI would find credentials: a variable's name or a file; None if nowhere."""
    for name in CREDENTIAL_VARIABLES.get(vendor.stream, ()):
        if env.get(name):
            return f"${name}"
    home = Path(env.get("HOME") or "~").expanduser()
    if vendor.stream == "claude":
        candidates = [home / ".claude" / ".credentials.json"]
    else:
        codex_home = Path(env.get("CODEX_HOME") or home / ".codex")
        provider_key = _codex_provider_key(codex_home / "config.toml")
        if provider_key is not None:
            name, needed = provider_key
            if not needed:
                return f"provider in {codex_home / 'config.toml'} needs no key"
            if env.get(name):
                return f"${name}"
        candidates = [codex_home / "auth.json"]
    for path in candidates:
        if path.is_file():
            return str(path)
    return None


def _codex_provider_key(config: Path) -> tuple[str, bool] | None:
    """(env_key, whether one is needed) of the custom provider config.toml selects, if any."""
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    provider = data.get("model_provider")
    table = (data.get("model_providers") or {}).get(provider) if isinstance(provider, str) else None
    if not isinstance(table, dict):
        return None
    key = table.get("env_key")
    return (key, True) if isinstance(key, str) and key else ("", False)


# -- lanes -------------------------------------------------------------------------------


def check_lane(settings: Settings, name: str, vendors: Mapping[str, VendorReport]) -> LaneReport:
    lane = settings.lane(name)
    report = LaneReport(name, str(lane.mode), lane.permissions, [])
    if lane.mode == LaneMode.EXTERNAL:
        return report  # other dispatchers run it: nothing of ours to check
    for vendor_name, vendor_report in vendors.items():
        vendor = settings.vendors[vendor_name]
        if lane.permissions not in vendor.permissions:
            continue
        problem, warning = _preset_problem(vendor, lane.permissions, settings)
        if warning:
            report.warnings.append(f"{vendor_name}: {warning}")
        if problem:
            report.problems.append(f"{vendor_name}: {problem}")
            continue
        if vendor_report.usable:
            report.vendors.append(vendor_name)
    if not report.vendors:
        report.problems.append(f"cannot run: no usable vendor has the {lane.permissions!r} preset")
    return report


def _preset_problem(vendor: VendorSettings, preset: str, settings: Settings) -> tuple[str | None, str | None]:
    """(what stops this preset on this vendor, what weakens it): quirks of the pinned CLIs."""
    env = worker_environment(settings, vendor, os.environ, vendor.env_set)
    if vendor.stream == "claude" and preset == TRUSTED and hasattr(os, "geteuid") and os.geteuid() == 0 \
            and env.get("IS_SANDBOX") != "1":
        return ("Claude Code refuses its bypass mode as root (\"cannot be used with root/sudo privileges\") "
                "unless IS_SANDBOX=1 reaches it (vendors.claude.env.set)"), None
    if vendor.stream == "claude" and preset == EDIT and sys.platform.startswith("linux"):
        missing = [tool for tool in ("bwrap", "socat") if shutil.which(tool, path=env.get("PATH")) is None]
        if missing:
            # Not fatal: without its sandbox, Claude Code denies the commands instead (recorded as denials).
            return None, (f"the edit preset's command sandbox needs {' and '.join(missing)} "
                          "(Debian: bubblewrap, socat); without it Claude Code denies commands")
    return None, None
