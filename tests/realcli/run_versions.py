#!/usr/bin/env python3
"""Run the real-CLI suite against other versions of claude and codex than the pinned ones.

    python tests/realcli/run_versions.py --claude 2.1.332 --codex 0.172.0
    python tests/realcli/run_versions.py --claude latest -- -k permissions -x

Installs the two packages from the npm registry into a folder of the project
(tests/realcli/clis-versions/<claude>_<codex>/, reused next time, ignored by
git), then runs `pytest tests/realcli` on them with the real-CLI tests
required (a missing CLI or namespace fails instead of skipping). Arguments
after `--` go to pytest. Exit status: pytest's.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PINNED = json.loads((HERE / "clis" / "package.json").read_text())["dependencies"]
VERSION = re.compile(r"^(latest|next|\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)$")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claude", default=PINNED["@anthropic-ai/claude-code"], help="@anthropic-ai/claude-code version")
    parser.add_argument("--codex", default=PINNED["@openai/codex"], help="@openai/codex version")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args()
    for name in ("claude", "codex"):
        if not VERSION.match(getattr(args, name)):
            parser.error(f"--{name}: a version like 2.1.197, or latest")
    folder = HERE / "clis-versions" / f"{args.claude}_{args.codex}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text(json.dumps({"private": True, "dependencies": {
        "@anthropic-ai/claude-code": args.claude, "@openai/codex": args.codex}}, indent=2) + "\n")
    install = ["npm", "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--loglevel=error"]
    if subprocess.run(install).returncode != 0:
        print(f"run_versions: npm could not install claude-code {args.claude} / codex {args.codex}", file=sys.stderr)
        return 2
    env = {**os.environ, "LANES_TUI_REAL_CLIS": str(folder), "LANES_TUI_REQUIRE_REAL_CLIS": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", str(HERE), *args.pytest_args],
                          env=env, cwd=HERE.parent.parent).returncode


if __name__ == "__main__":
    sys.exit(main())
