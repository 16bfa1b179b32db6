"""`lanes-tui demo`: the real supervisor on a scratch queue, with a simulated agent.

Creates a throw-away workspace (a handoff.yaml, the example tasks copied into
its `tasks/`), submits the examples (the delegation example as a child of the
question, so it gets thread context) and runs them with the built-in `demo`
vendor: a simulated agent shipped inside the package that speaks Claude's
stream-json format. No agent CLI, account or network needed.

On a terminal it opens the dashboard on that queue (tasks submitted with `n`
run on the simulated agent too), the agent paced like a real one (about 18 s a
task, some 40 s in all) so its transcripts can be watched streaming; otherwise,
or with --no-ui or --json, it drains the queue headless at the agent's quick
pace (about 2 s a task) and prints the supervisor's log and a summary.
`--speed FACTOR` divides either pace's pauses (2 = twice as fast); a
DEMO_AGENT_DELAY in the environment replaces the pace (0: no pauses, for tests).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

from lanes_tui.commands.output import emit_json
from lanes_tui.core.errors import NotFound
from lanes_tui.core.taskfile import TaskDefinition, load_task_file
from lanes_tui.engine.headless import EventPrinter
from lanes_tui.examples import example_task_files
from lanes_tui.vendors import demo_agent
from lanes_tui.wiring import Queue, build_engine, open_queue

if TYPE_CHECKING:
    from lanes_tui.settings import Settings
    from lanes_tui.storage.base import Backend

DEMO_VENDOR = "demo"
DELAY_ENV = "DEMO_AGENT_DELAY"  # seconds per beat of the simulated agent's script


def run(args: argparse.Namespace) -> int:
    workspace = Path(tempfile.mkdtemp(prefix="lanes-tui-demo-"))
    keep = getattr(args, "keep", False)
    interactive = not (getattr(args, "no_ui", False) or getattr(args, "json", False)) and _on_a_terminal()
    try:
        queue = open_queue(_scaffold(workspace), settings_override={"default_vendor": DEMO_VENDOR})
        delay = agent_delay(getattr(args, "speed", 1.0), interactive, os.environ)
        queue = replace(queue, settings=paced(queue.settings, delay))
        store = queue.store
        _submit_examples(store, workspace)
        if interactive:
            from lanes_tui.commands.dashboard import open_dashboard

            code = open_dashboard(queue, watch_only=False)
            if keep:
                print(f"scratch queue kept at {store.location}")
            return code
        code, supervisor_summary = asyncio.run(_drain(queue, quiet=getattr(args, "json", False)))
    finally:
        if not keep:
            shutil.rmtree(workspace, ignore_errors=True)
    if getattr(args, "json", False):
        emit_json({"status": "ok" if code == 0 else "failed", **supervisor_summary,
                   "workspace": str(workspace) if keep else None})
        return code
    print()
    print(f"{'task':<52} {'state':<10} {'attempts':>8} {'tokens in/out':>14}  answer file")
    for task in supervisor_summary["tasks"]:
        tokens = f"{task['tokens_in']}/{task['tokens_out']}"
        print(f"{task['id']:<52} {task['state']:<10} {task['attempts']:>8} {tokens:>14}  {task['answer_file']}")
    totals = supervisor_summary["totals"]
    print(f"demo: {totals['completed']} of {totals['tasks']} task(s) completed by the simulated agent "
          f"in {totals['duration_ms'] / 1000:.1f} s of agent time")
    if keep:
        print(f"scratch queue kept at {store.location} (try: lanes-tui --store {store.location} status --all)")
    return code


def agent_delay(speed: float, interactive: bool, environ: Mapping[str, str]) -> float:
    """Seconds per beat for the simulated agent: DEMO_AGENT_DELAY when the environment sets it,
    else the tour pace in the dashboard and the quick one headless (nobody watches a transcript
    there, and tests drain it); divided by --speed, within the agent's own bounds."""
    raw = environ.get(DELAY_ENV)
    if raw is not None:
        base = demo_agent.configured_delay(raw)
    else:
        base = demo_agent.TOUR_DELAY if interactive else demo_agent.DEFAULT_DELAY
    return min(base / speed, demo_agent.MAX_DELAY)


def paced(settings: Settings, delay: float) -> Settings:
    """`settings` with the demo vendor's workers started with DEMO_AGENT_DELAY=`delay`: the ones
    this demo submits and the ones submitted from its dashboard alike. Set, not allowed through,
    so it wins over the variable in our own environment."""
    vendor = settings.vendors[DEMO_VENDOR]
    env = MappingProxyType({**vendor.env_set, DELAY_ENV: repr(delay)})
    return replace(settings, vendors=MappingProxyType({**settings.vendors, DEMO_VENDOR: replace(vendor, env_set=env)}))


def _on_a_terminal() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def _scaffold(workspace: Path) -> Path:
    """handoff/handoff.yaml (so the dashboard can submit) and tasks/ with the examples; the
    handoff.yaml's path."""
    handoff = workspace / "handoff"
    handoff.mkdir(mode=0o700, exist_ok=True)
    (handoff / "handoff.yaml").write_text(
        'workspace_id: "lanes-tui-demo"\nworkspace_root: ".."\nqueue_root: "state"\n'
        'lanes:\n  default: "examples and anything you submit"\n  review: "code reviews"\n',
        encoding="utf-8",
    )
    (workspace / "tasks").mkdir(exist_ok=True)
    for path in example_task_files():
        shutil.copyfile(path, workspace / "tasks" / path.name)
    return handoff / "handoff.yaml"


async def _drain(queue: Queue, *, quiet: bool) -> tuple[int, dict[str, Any]]:
    engine = build_engine(queue, drain=True)
    engine.observe(EventPrinter(io.StringIO() if quiet else sys.stdout, as_json=False))
    await engine.start()
    await engine.run()
    code = engine.exit_code(interrupted=False)
    summary = engine.summary(code)
    for task in summary["tasks"]:
        task["answer_file"] = Path(queue.store.read_task(task["id"])["response_path"]).name
    return code, summary


def _submit_examples(store: Backend, workspace: Path) -> None:
    files = example_task_files()
    if not files:
        raise NotFound("no example task files found (expected lanes_tui/examples/*.yaml or tasks/*.yaml)")
    request = workspace / "request.md"
    request.write_text("# Demo request\n\nSee README.md for what this project does.\n", encoding="utf-8")
    definitions = [(path, load_task_file(path)) for path in files]

    def submit(path: Path, definition: TaskDefinition, metadata: dict[str, Any]) -> dict[str, Any]:
        return store.create_task(
            workspace_id="lanes-tui-demo", correlation_id=path.stem, source_agent="demo",
            lane=definition.fields.get("lane", "default"), workspace_root=workspace, request_path=request,
            response_path=workspace / f"{path.stem}.answer.md", prompt=definition.fields.get("prompt", ""),
            metadata=metadata,
        )

    parent_id = None
    for path, definition in definitions:
        if definition.metadata.get("kind") != "delegation":
            task = submit(path, definition, dict(definition.metadata))
            if definition.metadata.get("kind") == "question":
                parent_id = task["id"]
    # The delegation example continues the question's thread: it waits for its parent
    # (depends_on) and then reads the parent's answer as thread context.
    for path, definition in definitions:
        if definition.metadata.get("kind") == "delegation" and parent_id is not None:
            submit(path, definition, {**definition.metadata, "parent_task_id": parent_id, "depends_on": [parent_id]})
