"""Run the real claude and codex CLIs, and lanes-tui around them, in loopback-only namespaces.

Every process started here runs under `unshare --net` through sandbox.py, which
serves the model-API stand-in inside the namespace and records every other
connection or DNS query; `Sandboxed.finish()` fails the test if there was one.

Where the CLIs come from: $LANES_TUI_REAL_CLIS (a folder with node_modules/.bin),
else tests/realcli/clis (`npm ci --prefix tests/realcli/clis`; .ci/run does it).
Without them, or without a network namespace (not root), the tests are skipped
with the reason; with LANES_TUI_REQUIRE_REAL_CLIS=1 (CI) they fail instead.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

HERE = Path(__file__).resolve().parent
SANDBOX = HERE / "sandbox.py"
API_PORT = 18080  # inside each test's own namespace: no other process can hold it
API_URL = f"http://127.0.0.1:{API_PORT}"
BOUND = 90.0  # upper bound for any wait: a hang fails the test instead of blocking CI
LANES_TUI = [sys.executable, "-m", "lanes_tui"]


def clis_dir() -> Path:
    return Path(os.environ.get("LANES_TUI_REAL_CLIS") or HERE / "clis")


def cli_bin() -> Path:
    return clis_dir() / "node_modules" / ".bin"


@functools.cache
def unavailable() -> str | None:
    """Why the real-CLI tests cannot run here, or None."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return "needs unshare (util-linux) and ip (iproute2) for a loopback-only network namespace"
    probe = subprocess.run(["unshare", "--net", "--", "ip", "link", "set", "lo", "up"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"cannot make a network namespace (run as root): {probe.stderr.strip()[:200]}"
    for name in ("claude", "codex"):
        if not (cli_bin() / name).exists():
            return (f"the real {name} CLI is not installed in {clis_dir()}: "
                    "run `npm ci --prefix tests/realcli/clis` (.ci/run does)")
    return None


def require_real_clis() -> None:
    reason = unavailable()
    if reason is None:
        return
    if os.environ.get("LANES_TUI_REQUIRE_REAL_CLIS") == "1":
        pytest.fail(f"LANES_TUI_REQUIRE_REAL_CLIS=1 but {reason}")
    pytest.skip(reason)


def require_tools(*names: str, why: str) -> None:
    """Skip (fail in CI) when a program a behaviour depends on is missing."""
    missing = [name for name in names if shutil.which(name) is None]
    if not missing:
        return
    reason = f"{why} needs {', '.join(missing)} (Debian: apt-get install {' '.join(missing)}; .ci/run does)"
    if os.environ.get("LANES_TUI_REQUIRE_REAL_CLIS") == "1":
        pytest.fail(f"LANES_TUI_REQUIRE_REAL_CLIS=1 but {reason}")
    pytest.skip(reason)


@functools.cache
def cli_version(name: str) -> str:
    done = subprocess.run(["unshare", "--net", "--", str(cli_bin() / name), "--version"],
                          capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


CODEX_CONFIG = f"""# Written by tests/realcli: codex talks to the loopback stand-in only.
model_provider = "standin"
check_for_update_on_startup = false

[model_providers.standin]
name = "standin"
base_url = "{API_URL}/v1"
wire_api = "responses"
env_key = "OPENAI_API_KEY"
request_max_retries = 1
stream_max_retries = 1

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false
apps = false
"""


@dataclass
class Sandboxed:
    """One process tree in its own namespace, with the stand-in's log of what it asked."""

    proc: subprocess.Popen[bytes]
    folder: Path
    stdout_path: Path
    stderr_path: Path
    finished: bool = False

    @property
    def api_log(self) -> Path:
        return self.folder / "api.jsonl"

    @property
    def net_log(self) -> Path:
        return self.folder / "net.json"

    def requests(self) -> list[dict[str, Any]]:
        """The model-API requests made so far (POSTs to the Messages or Responses API)."""
        if not self.api_log.exists():
            return []
        entries = [json.loads(line) for line in self.api_log.read_text().splitlines() if line.strip()]
        return [e for e in entries if e.get("api")]

    def wait_for_requests(self, count: int, timeout: float = BOUND) -> list[dict[str, Any]]:
        return wait_until(lambda: len(self.requests()) >= count and self.requests(),
                          f"{count} model-API request(s)", timeout, self)

    def child_pid(self) -> int:
        """The pid of the command itself (lanes-tui), inside the sandbox."""
        pid_file = self.folder / "pid"
        return int(wait_until(lambda: pid_file.exists() and pid_file.read_text(), "the pid file", BOUND, self))

    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace") if self.stdout_path.exists() else ""

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def events(self) -> list[dict[str, Any]]:
        """`lanes-tui --no-ui --json` event lines printed so far."""
        found = []
        for line in self.stdout().splitlines():
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if isinstance(item, dict) and "event" in item:
                found.append(item)
        return found

    def wait_for_event(self, name: str, timeout: float = BOUND, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((e for e in self.events() if e["event"] == name
                         and all(e.get(k) == v for k, v in match.items())), None)
        return wait_until(found, f"a {name} event {match or ''}", timeout, self)

    def wait(self, timeout: float = BOUND) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"still running after {timeout} s\nstdout:\n{self.stdout()[-3000:]}\n"
                                 f"stderr:\n{self.stderr()[-3000:]}") from None
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)

    def finish(self, timeout: float = BOUND) -> int:
        """Wait for the end; fail if anything in the namespace tried to reach past the stand-in."""
        code = self.wait(timeout)
        self.finished = True
        attempts = json.loads(self.net_log.read_text()) if self.net_log.exists() else None
        assert attempts is not None, f"the sandbox wrote no network log (exit {code}):\n{self.stderr()[-3000:]}"
        assert attempts == [], f"something tried to reach past the stand-in: {attempts}"
        return code


def wait_until(predicate: Callable[[], Any], what: str, timeout: float, box: Sandboxed | None = None) -> Any:
    """Poll a condition on files or processes until it holds; the timeout is an upper bound only."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if box is not None and box.proc.poll() is not None and not predicate():
            raise AssertionError(f"gave up waiting for {what}: the sandboxed process exited "
                                 f"{box.proc.returncode}\nstdout:\n{box.stdout()[-3000:]}\nstderr:\n{box.stderr()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}"
                                 + (f"\nstdout:\n{box.stdout()[-3000:]}\nstderr:\n{box.stderr()[-3000:]}" if box else ""))
        time.sleep(0.05)


@dataclass
class RealAgents:
    """A workspace (handoff.yaml, store, git repository) whose agents are the real CLIs."""

    root: Path  # tmp_path
    workspace: Any  # tests/conftest.py Workspace
    boxes: list[Sandboxed] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.codex_home = self.root / "codex-home"
        self.tmp = self.root / "tmp"  # TMPDIR: codex refuses its helpers under a shared temp dir
        for folder in (self.home, self.codex_home, self.tmp):
            folder.mkdir(parents=True, exist_ok=True)
        (self.codex_home / "config.toml").write_text(CODEX_CONFIG, encoding="utf-8")

    # -- the environment every sandboxed process starts with --------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        keep = ("PATH", "LANG", "LC_ALL", "TZ", "USER", "LOGNAME", "SHELL", "VIRTUAL_ENV", "PYTHONPATH")
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update({
            "PATH": os.pathsep.join([str(cli_bin()), os.environ.get("PATH", "/usr/bin:/bin")]),
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "PYTHONUNBUFFERED": "1",
            # Claude Code: the stand-in, a dummy key, no start-up traffic of its own.
            "ANTHROPIC_BASE_URL": API_URL,
            "ANTHROPIC_API_KEY": "sk-ant-standin",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            # codex: the provider in CODEX_HOME/config.toml reads this key.
            "CODEX_HOME": str(self.codex_home),
            "OPENAI_API_KEY": "sk-openai-standin",
        })
        env.update(extra)
        return env

    # -- the queue --------------------------------------------------------------------------

    def settings(self, **overrides: Any) -> Path:
        """lanes-tui.yaml with short timings (overrides merged one level deep)."""
        data: dict[str, Any] = {
            "lane_defaults": {"timeout_seconds": 60, "lease_seconds": 30, "renew_seconds": 2,
                              "max_attempts": 1, "backoff_seconds": 0.2, "backoff_max_seconds": 1},
            "rate_limit_cooldown_seconds": 1,
            "shutdown_grace_seconds": 2,
            "kill_grace_seconds": 2,
        }
        for key, value in overrides.items():
            if isinstance(value, dict) and isinstance(data.get(key), dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        # These tests check what each preset lets the real CLI do in the workspace itself (a
        # repository without commits); worktree isolation has its own tests (tests/engine).
        for lane in (data.get("lanes") or {}).values():
            if isinstance(lane, dict):
                lane.setdefault("isolation", "none")
        path = self.workspace.config.parent / "lanes-tui.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return path

    def submit(self, **kwargs: Any) -> dict[str, Any]:
        return self.workspace.submit(**kwargs)

    def store(self) -> Any:
        return self.workspace.store()

    # -- running ----------------------------------------------------------------------------

    def start(self, argv: list[str], scenario: dict[str, Any], *, env: dict[str, str] | None = None,
              stdin: bytes | None = None, cwd: Path | None = None) -> Sandboxed:
        folder = self.root / f"sandbox-{len(self.boxes) + 1}"
        folder.mkdir()
        (folder / "scenario.json").write_text(json.dumps(scenario), encoding="utf-8")
        stdout, stderr = folder / "stdout", folder / "stderr"
        command = ["unshare", "--net", "--", sys.executable, str(SANDBOX), "--port", str(API_PORT),
                   "--scenario", str(folder / "scenario.json"), "--api-log", str(folder / "api.jsonl"),
                   "--net-log", str(folder / "net.json"), "--pid-file", str(folder / "pid"), "--", *argv]
        with stdout.open("wb") as out, stderr.open("wb") as err:
            proc = subprocess.Popen(command, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                    stdout=out, stderr=err, env=env or self.env(),
                                    cwd=cwd or self.workspace.root, start_new_session=True)
        if stdin is not None:
            assert proc.stdin is not None
            proc.stdin.write(stdin)
            proc.stdin.close()
        box = Sandboxed(proc, folder, stdout, stderr)
        self.boxes.append(box)
        return box

    def supervise(self, scenario: dict[str, Any], *extra: str, env: dict[str, str] | None = None) -> Sandboxed:
        """`lanes-tui --no-ui --drain --json` on the workspace, inside a sandbox."""
        summary = self.root / f"summary-{len(self.boxes) + 1}.json"
        return self.start([*LANES_TUI, "--config", str(self.workspace.config), "--no-ui", "--drain", "--json",
                           "--summary", str(summary), *extra], scenario, env=env)

    def drain(self, scenario: dict[str, Any], *extra: str, env: dict[str, str] | None = None,
              expect: int | None = 0) -> Sandboxed:
        box = self.supervise(scenario, *extra, env=env)
        code = box.finish()
        if expect is not None:
            assert code == expect, f"exit {code}, expected {expect}\nstdout:\n{box.stdout()[-4000:]}\n" \
                                   f"stderr:\n{box.stderr()[-4000:]}"
        return box

    def cli(self, vendor: str, args: list[str], scenario: dict[str, Any], prompt: str,
            cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[Sandboxed, int]:
        """The CLI itself, directly (no lanes-tui), on the same stand-in."""
        box = self.start([str(cli_bin() / vendor), *args], scenario, stdin=prompt.encode(), cwd=cwd, env=env)
        return box, box.finish()

    def close(self) -> None:
        for box in self.boxes:
            box.kill()


def request_text(request: dict[str, Any]) -> str:
    """Everything the CLI sent in one request, as text (to look for a tool result in it)."""
    return json.dumps(request.get("body"))
