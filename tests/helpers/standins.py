"""Put stand-in `claude` and `codex` executables first on PATH for a test.

Usage from any test module in tests/engine (a package, so a relative import works):

    from helpers.standins import install_standins, standin_env

    def test_something(tmp_path):
        bin_dir = install_standins(tmp_path / "bin")
        env = standin_env(bin_dir, "hang")            # STANDIN_MODE=hang
        env = standin_env(bin_dir, "slow", delay=0.05)  # knobs become STANDIN_DELAY=0.05
        subprocess.Popen(["claude", *CLAUDE_ARGS], env=env, ...)

The wrappers are generated per test rather than checked in, because the
interpreter that runs the tests (a venv python) is often not the `python3`
first on PATH: each wrapper execs `sys.executable` on
tests/standin/agent_standin.py, so the pid the test sees is the stand-in itself
(signals reach it directly). Modes and knobs are documented in that script.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

STANDIN_SCRIPT = Path(__file__).resolve().parents[1] / "standin" / "agent_standin.py"
VENDORS = ("claude", "codex")
# The argv a supervisor is expected to use; the stand-in fails like the real CLI without it.
CLAUDE_ARGS = ["-p", "--output-format", "stream-json", "--verbose"]
CODEX_ARGS = ["exec", "--json", "--skip-git-repo-check", "-"]
DEFAULT_ARGS = {"claude": CLAUDE_ARGS, "codex": CODEX_ARGS}


def install_standins(bin_dir: Path) -> Path:
    """Write executable `claude` and `codex` wrappers into bin_dir; returns bin_dir."""
    bin_dir = Path(bin_dir)
    bin_dir.mkdir(parents=True, exist_ok=True)
    for vendor in VENDORS:
        wrapper = bin_dir / vendor
        wrapper.write_text(
            "#!/bin/sh\n"
            f"# Stand-in for the real `{vendor}` CLI, written by tests/helpers/standins.py.\n"
            f"exec {shlex.quote(sys.executable)} {shlex.quote(str(STANDIN_SCRIPT))} {vendor} \"$@\"\n",
            encoding="utf-8",
        )
        wrapper.chmod(0o755)
    return bin_dir


def standin_env(bin_dir: Path, mode: str = "ok", base: Mapping[str, str] | None = None,
                **knobs: object) -> dict[str, str]:
    """An environment with bin_dir first on PATH, STANDIN_MODE=mode and STANDIN_<KNOB>=value.

    STANDIN_* variables inherited from the caller are dropped, so a stray one in
    the developer's shell cannot change a test.
    """
    env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("STANDIN_")}
    env["PATH"] = os.pathsep.join([str(bin_dir), env.get("PATH", "")]).rstrip(os.pathsep)
    env["STANDIN_MODE"] = mode
    for key, value in knobs.items():
        env[f"STANDIN_{key.upper()}"] = str(value)
    return env
