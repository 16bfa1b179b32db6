"""What a worker reads on stdin: the prompt, where to work, the request, the thread so far.

The layout follows agent-lanes' bundled dispatcher (so prompts written for it
read the same): effort hint, prompt, worktree and branch, the request artifact
between markers, then the answers of the parent tasks in the thread, oldest
first. Thread context is read from response.json files only: no waiting, no
writing of response files, nothing that changes the queue.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanes_tui.core.errors import LanesError
from lanes_tui.core.ids import is_valid_task_id

if TYPE_CHECKING:  # only the queue's read verbs are used; any backend has them
    from lanes_tui.storage.base import Backend

MAX_THREAD_DEPTH = 20


def build_input(store: "Backend", task: dict[str, Any], prompt_prefix: str = "") -> bytes:
    parts: list[str] = [prompt_prefix] if prompt_prefix else []
    if task.get("prompt"):
        parts.append(f"{task['prompt']}\n\n")
    if task.get("worktree_path"):
        parts.append(f"Worktree: {task['worktree_path']}\n")
    if task.get("expected_branch"):
        parts.append(f"Expected branch: {task['expected_branch']}\n")
    request = Path(task["request_path"])
    body = store.request_content(task)  # on a shared queue, what was submitted, wherever that was
    if body is not None:
        parts.append(f"\n--- request artifact ({request}) ---\n")
        parts.append(body.decode("utf-8", "replace"))
        parts.append("\n--- end request artifact ---\n")
    else:
        parts.append(f"\n(request artifact {request} could not be read)\n")
    thread = thread_context(store, task)
    if thread:
        thread_id = (task.get("metadata") or {}).get("thread_id") or "-"
        parts.append(f"\n--- thread context (thread_id={thread_id}) ---\n")
        for parent_id, answer in thread:
            parts.append(f"\n>>> task {parent_id} response:\n{answer}\n")
        parts.append("\n--- end thread context ---\n\n")
    # A lone surrogate (a `\udXXX` escape in task.json) cannot be encoded; sending "?" in
    # its place beats failing every attempt of the task on the same error.
    return "".join(parts).encode("utf-8", errors="replace")


def thread_context(store: "Backend", task: dict[str, Any]) -> list[tuple[str, str]]:
    """(task id, answer) of each ancestor via metadata.parent_task_id, oldest first.

    Stops at MAX_THREAD_DEPTH, at a cycle, and at an unknown or invalid id; an
    ancestor without an answer yet is skipped but the walk goes on past it.
    """
    chain: list[tuple[str, str]] = []
    seen = {task["id"]}
    parent = (task.get("metadata") or {}).get("parent_task_id")
    while parent and len(seen) <= MAX_THREAD_DEPTH:
        if not isinstance(parent, str) or not is_valid_task_id(parent) or parent in seen:
            break
        seen.add(parent)
        try:
            ancestor = store.read_task(parent)
            response = store.read_response(parent)
        except LanesError:
            break
        if response is not None and isinstance(response.get("body"), str):
            chain.append((parent, response["body"]))
        parent = (ancestor.get("metadata") or {}).get("parent_task_id")
    chain.reverse()
    return chain
