#!/usr/bin/env python3
"""A task's worktree: what lanes-tui's supervisor does before an agent starts, against plain
`git worktree add`, in a repository of 10,000 files, same machine, same run.

lanes-tui's side is the supervisor's own code path for an isolated lane, in process (the
supervisor runs it in a thread): find the repository, choose and resolve the base, take the
repository's lock, check git's worktree list (a crashed run's worktree is reused), prune,
`git worktree add -b lanes/<id>`, then copy what `.worktreeinclude` names (one ignored `.env`
here). git's side is `git worktree add -b <branch> <path> HEAD`, the command a person or a
script would run. The two alternate, one task each per round, so load hits both alike; every
worktree stays until the end (as tasks' worktrees do), so both see a growing worktree list.

    python bench/worktree_bench.py                 # 10,000 files, 15 rounds
    python bench/worktree_bench.py --files 2000 --rounds 5 --markdown-out /tmp/wt.md
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import log, machine_line, publish  # noqa: E402

from lanes_tui.engine.isolation import copy_included, prepare_attempt  # noqa: E402
from lanes_tui.settings import LaneSettings, Settings, load_settings  # noqa: E402  (Settings: annotations)

TARGET = 1.2


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def make_repository(root: Path, files: int) -> None:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Bench")
    git(root, "config", "user.email", "bench@example.com")
    per_dir = 100
    for n in range(files):
        folder = root / "src" / f"pkg{n // per_dir:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{n % per_dir:03d}.py").write_text(f"# module {n}\nVALUE = {n}\n\ndef f():\n    return VALUE\n")
    (root / ".gitignore").write_text(".env\n__pycache__/\n")
    (root / ".worktreeinclude").write_text(".env\n")
    (root / ".env").write_text("TOKEN=local\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "10k files")


def lanes_side(repo_root: Path, settings: Settings, lane: LaneSettings, n: int) -> float:
    task = {"id": f"20261202T000000{n:06d}Z-bench-000000000000", "lane": "bench", "workspace_root": str(repo_root),
            "metadata": {}, "prompt": "bench"}
    started = time.perf_counter()
    isolation = prepare_attempt(task, lane, settings, 1, [])
    assert isolation is not None and isolation.fresh
    copied = copy_included(isolation.repo, isolation.tree.path, isolation.included)
    elapsed = time.perf_counter() - started
    assert copied == [".env"], copied
    return elapsed


def git_side(repo_root: Path, folder: Path, n: int) -> float:
    started = time.perf_counter()
    subprocess.run(["git", "-C", str(repo_root), "worktree", "add", "--quiet", "-b", f"plain/{n}",
                    str(folder / f"plain-{n}"), "HEAD"], check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--markdown-out", type=Path)
    parser.add_argument("--tmpdir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lanes-wt-bench-", dir=args.tmpdir) as scratch:
        base = Path(scratch)
        repo_root = base / "repo"
        log(f"making a repository of {args.files:,} files")
        make_repository(repo_root, args.files)
        settings = dataclasses.replace(load_settings(None, config_dir=None), worktrees_dir=base / "lanes-worktrees")
        lane = LaneSettings(permissions="edit", isolation="worktree")
        (base / "plain").mkdir()
        lanes_side(repo_root, settings, lane, 0)  # warm-up: page cache, git's first run
        git_side(repo_root, base / "plain", 0)
        lanes_times: list[float] = []
        git_times: list[float] = []
        for n in range(1, args.rounds + 1):
            pair = [(lanes_times, lambda: lanes_side(repo_root, settings, lane, n)),
                    (git_times, lambda: git_side(repo_root, base / "plain", n))]
            for times, measure in (pair if n % 2 else reversed(pair)):
                times.append(measure())
        lanes_ms, git_ms = statistics.median(lanes_times) * 1000, statistics.median(git_times) * 1000
        ratio = lanes_ms / git_ms
        table = (
            f"{machine_line(base, packages=())}. Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
            f"{args.rounds} rounds, median.\n\n"
            "| Measurement (median) | Files | `git worktree add -b` | lanes-tui (prepare + `.worktreeinclude`) "
            "| lanes-tui / git | Target | Met? |\n|---|---:|---:|---:|---:|---|---|\n"
            f"| a task's worktree, ready for its agent | {args.files:,} | {git_ms:.0f} ms | {lanes_ms:.0f} ms | "
            f"{ratio:.2f}x | <= {TARGET}x | {'yes' if ratio <= TARGET else 'no'} |\n\n"
            f"- Samples (ms): git {', '.join(f'{t * 1000:.0f}' for t in git_times)}; "
            f"lanes-tui {', '.join(f'{t * 1000:.0f}' for t in lanes_times)}.\n"
        )
        publish(table, args.markdown_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
