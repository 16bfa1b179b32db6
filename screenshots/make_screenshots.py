"""Regenerate the dashboard screenshots (SVG, 120x36) from the snapshot tests' scenes.

    python screenshots/make_screenshots.py [--size 120x36] [--only idle,busy]

The scenes (queue on disk, fixed clock, pretend workers) are
`tests/ui/snapshot_fixtures.py`, shared with `tests/ui/test_snapshots.py`, so
a screenshot shows exactly what the pixel tests pin; run from any directory.
The output is deterministic: regenerating without a UI change leaves the files
byte for byte as they were.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the fixtures live with the tests: `ui.snapshot_fixtures`

from ui.snapshot_fixtures import STATES  # noqa: E402

DEFAULT_SIZE = (120, 36)


async def shoot(state: str, size: tuple[int, int], out_dir: Path) -> Path:
    with tempfile.TemporaryDirectory(prefix="lanes-tui-screenshot-") as folder:
        return await _shoot_in(Path(folder), state, size, out_dir)


async def _shoot_in(folder: Path, state: str, size: tuple[int, int], out_dir: Path) -> Path:
    app, run_before = STATES[state].build(folder)
    async with app.run_test(size=size) as pilot:
        await run_before(pilot)
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        svg = app.export_screenshot(simplify=True)  # the same call the snapshot plugin makes
    path = out_dir / f"{state}.svg"
    path.write_text(svg, encoding="utf-8", newline="\n")
    return path


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 120x36, not {text!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=DEFAULT_SIZE, help="terminal size, default 120x36")
    parser.add_argument("--only", default="", help=f"comma-separated states, of: {', '.join(STATES)}")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder, default screenshots/")
    args = parser.parse_args(argv)
    states = [s for s in args.only.split(",") if s] or list(STATES)
    unknown = [s for s in states if s not in STATES]
    if unknown:
        parser.error(f"unknown state(s) {', '.join(unknown)}; known: {', '.join(STATES)}")
    os.environ.pop("NO_COLOR", None)  # read when the App is built: it would drop every colour
    # A theme remembered from a real run (lanes_tui/ui/dashboard_state.py) must not colour the pictures.
    os.environ["XDG_STATE_HOME"] = tempfile.mkdtemp(prefix="lanes-tui-shots-state-")
    for state in states:
        print(asyncio.run(shoot(state, args.size, args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
