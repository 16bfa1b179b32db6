"""`lanes-tui demo`: a complete round trip on a scratch queue, no agent CLI needed.

Creates a throw-away workspace, submits the example tasks, claims each one,
records a canned answer and waits for it like an orchestrator would, then
prints what happened. (The supervisor with a simulated agent replaces the
canned answers once it exists.)
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from lanes_tui.commands.output import emit_json
from lanes_tui.core.errors import NotFound
from lanes_tui.core.store import TaskStore
from lanes_tui.core.taskfile import load_task_file
from lanes_tui.examples import example_task_files


def run(args: argparse.Namespace) -> int:
    workspace = Path(tempfile.mkdtemp(prefix="lanes-tui-demo-"))
    try:
        rows = _round_trip(workspace)
    finally:
        if not args.keep:
            shutil.rmtree(workspace, ignore_errors=True)
    if getattr(args, "json", False):
        emit_json({"status": "ok", "workspace": str(workspace) if args.keep else None, "tasks": rows})
        return 0
    print(f"{'task':<58} {'lane':<8} {'state':<10} answer")
    for row in rows:
        print(f"{row['task_id']:<58} {row['lane']:<8} {row['state']:<10} {row['answer']}")
    print(f"demo: {len(rows)} task(s) submitted, claimed, answered and collected")
    if args.keep:
        print(f"scratch queue kept at {workspace / 'state'}")
    return 0


def _round_trip(workspace: Path) -> list[dict[str, str]]:
    store = TaskStore(workspace / "state")
    request = workspace / "request.md"
    request.write_text("# Demo request\n\nPlease look at this.\n", encoding="utf-8")
    files = example_task_files()
    if not files:
        raise NotFound("no example task files found (expected lanes_tui/examples/*.yaml or tasks/*.yaml)")
    submitted = []
    for path in files:
        definition = load_task_file(path)
        submitted.append(
            store.create_task(
                workspace_id="lanes-tui-demo",
                correlation_id=path.stem,
                source_agent="demo",
                lane=definition.fields.get("lane", "default"),
                workspace_root=workspace,
                request_path=request,
                response_path=workspace / f"{path.stem}.answer.md",
                prompt=definition.fields.get("prompt", ""),
                metadata=definition.metadata,
            )
        )
    rows = []
    for task in submitted:
        claimed = store.claim(task["id"], owner="demo-worker", lease_seconds=60)
        answer = f"Demo answer for {task['correlation_id']}."
        store.respond(task["id"], body=answer, reviewer="demo-worker", claim_token=claimed["claim_token"])
        done = store.effective_task(task["id"])
        rows.append({"task_id": task["id"], "lane": done["lane"], "state": done["state"], "answer": answer})
    return rows
