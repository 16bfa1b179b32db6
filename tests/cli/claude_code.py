"""Running lanes-tui's Claude Code integration the way Claude Code runs it: the installed hook
commands through a shell with `lanes-tui` from PATH, the `.mcp.json` server as a child process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

LANES_TUI = [sys.executable, "-m", "lanes_tui"]


def entry_point_dir(scratch: Path) -> Path:
    """A folder whose `lanes-tui` is this environment's console script: the venv's own when pip
    installed one, else an equivalent written into `scratch` (what pip would have written)."""
    installed = Path(sys.executable).parent
    if (installed / "lanes-tui").is_file():
        return installed
    scratch.mkdir(exist_ok=True)
    script = scratch / "lanes-tui"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom lanes_tui.cli import main\nsys.exit(main())\n")
    script.chmod(0o755)
    return scratch


def as_claude_code(settings: dict, event: str, project: Path, payload: dict, agent: str | None = "bob",
                   cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run the settings' command for `event` as Claude Code does: through a shell, with
    CLAUDE_PROJECT_DIR set to the project and `lanes-tui` taken from PATH (not this interpreter),
    from a working directory that is not the project. `agent`: LANES_AGENT_ID (None: an
    interactive session, named by the session id in `payload`)."""
    (command,) = [h["command"] for entry in settings["hooks"][event] for h in entry["hooks"]]
    elsewhere = cwd or project.parent / "somewhere-else"
    elsewhere.mkdir(exist_ok=True)
    bin_dir = entry_point_dir(project.parent / "entry-point")
    env = {"PATH": os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"]), "CLAUDE_PROJECT_DIR": str(project)}
    if agent is not None:
        env["LANES_AGENT_ID"] = agent
    return subprocess.run(["/bin/sh", "-c", command], input=json.dumps(payload), capture_output=True, text=True,
                          cwd=elsewhere, env=env, timeout=30)


def install(config: Path, *options: str, absolute: bool = False) -> dict:
    """`lanes-tui [options] hooks --install [--absolute]`; the settings file it wrote."""
    argv = [*LANES_TUI, "--config", str(config), *options, "hooks", "--install", *(["--absolute"] if absolute else [])]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=config.parent, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads((config.parent.parent / ".claude" / "settings.json").read_text())
