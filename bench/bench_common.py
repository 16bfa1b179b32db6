"""What every benchmark table states about the run: the machine, the code, where the stores were."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    """Progress goes to stderr; the table alone goes to stdout."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def find_cli(name: str) -> str:
    """The command installed beside this interpreter (the venv under test), else on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        sys.exit(f"{Path(sys.argv[0]).stem}: cannot find the {name} command (install it in this environment)")
    return found


def publish(table: str, markdown_out: Path | None) -> None:
    """The table on stdout, and in `markdown_out` when asked."""
    sys.stdout.write(table)
    if markdown_out:
        markdown_out.write_text(table)
        log(f"table written to {markdown_out}")


def machine_line(tmp: Path, packages: tuple[str, ...] = ("agent-lanes",), extra: str = "") -> str:
    """CPU, kernel, Python, the compared packages' versions, lanes-tui's git revision, the filesystem."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    fs = ""
    try:
        out = subprocess.run(["df", "--output=fstype", str(tmp)], capture_output=True, text=True).stdout.split()
        fs = out[-1] if len(out) > 1 else ""
    except OSError:
        pass
    revision = ""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "lanes_tui"],
                               capture_output=True, text=True)
        if head.returncode == 0:
            revision = f" (git {head.stdout.strip()}{' + uncommitted changes' if dirty.stdout.strip() else ''})"
    except OSError:
        pass
    versions = ""
    for name in packages:
        try:
            versions += f"{name} {version(name)}, "
        except PackageNotFoundError:
            versions += f"{name} (not installed), "
    return (
        f"Machine: {os.cpu_count()} CPUs{f' ({model})' if model else ''}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, {extra + ', ' if extra else ''}{versions}lanes-tui {version('lanes-tui')}{revision}, "
        f"stores on {fs or 'unknown fs'} ({tmp})"
    )
