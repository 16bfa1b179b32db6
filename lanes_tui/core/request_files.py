"""A task's files in its workspace: the request it was submitted with, its supporting files and
where its answer goes. Shared by every backend: whatever holds the queue, these live in the
submitter's workspace, and a claim is refused when the request changed since (agent-lanes'
rule, by SHA-256)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from lanes_tui.core.errors import InvalidInput, NotFound
from lanes_tui.core.paths import expand_user


def sha256_file(path: Path) -> str:
    import hashlib  # ~4 ms to import (OpenSSL): only where a request is hashed, not in `list`

    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # a FIFO must not block us
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidInput(f"not a regular file: {path}")
        while chunk := os.read(fd, 1 << 20):
            digest.update(chunk)
    finally:
        os.close(fd)
    return digest.hexdigest()


MAX_REQUEST_BYTES = 32 << 20  # what a worker is given of a request, and what a shared queue carries


def read_request(task: dict[str, Any]) -> bytes | None:
    """The request file's first MAX_REQUEST_BYTES as it is now, or None when it cannot be read."""
    try:
        with Path(task["request_path"]).open("rb") as handle:
            return handle.read(MAX_REQUEST_BYTES + 1)[:MAX_REQUEST_BYTES]
    except OSError:
        return None


def require_inside(root: Path, candidate: Path, label: str) -> Path:
    try:
        candidate.relative_to(root)
    except ValueError:
        raise InvalidInput(f"{label} is outside workspace_root {root}: {candidate}") from None
    return candidate


class TaskFiles(NamedTuple):  # a NamedTuple, not a dataclass: the one-shot CLI defines it on every run
    """A new task's paths, resolved and checked, with the hashes agent-lanes records."""

    workspace_root: str
    request_path: str
    request_sha256: str
    response_path: str
    worktree_path: str | None
    supporting_paths: list[dict[str, str]]


def check_task_files(*, workspace_root: Path | str, request_path: Path | str, response_path: Path | str,
                     worktree_path: Path | str | None, supporting_paths: Iterable[Any]) -> TaskFiles:
    root = Path(workspace_root).resolve()
    request = require_inside(root, Path(request_path).resolve(), "request_path")
    response = require_inside(root, Path(response_path).resolve(), "response_path")
    if response == root or response.is_dir():
        # `wait` writes the answer beside this path: a folder would put it outside the workspace.
        raise InvalidInput(f"response_path is a folder, not a file: {response}")
    if not request.is_file():
        raise NotFound(f"request file does not exist: {request}")
    supporting = [_supporting_record(root, i, item) for i, item in enumerate(supporting_paths)]
    return TaskFiles(
        workspace_root=str(root),
        request_path=str(request),
        request_sha256=sha256_file(request),
        response_path=str(response),
        worktree_path=str(Path(worktree_path).resolve()) if worktree_path else None,
        supporting_paths=supporting,
    )


def _supporting_record(root: Path, index: int, item: Any) -> dict[str, str]:
    raw = item.get("path") if isinstance(item, dict) else item
    if not isinstance(raw, (str, Path)) or not str(raw):
        raise InvalidInput(f"supporting_paths[{index}] is missing a path")
    path = expand_user(str(raw))
    path = (path if path.is_absolute() else root / path).resolve()
    require_inside(root, path, f"supporting_paths[{index}]")
    if not path.is_file():
        raise NotFound(f"supporting path does not exist: {path}")
    return {"path": str(path), "sha256": sha256_file(path)}


def request_problem(task: dict[str, Any]) -> str | None:
    """Why the task's request cannot be claimed as it stands, or None."""
    request = Path(task["request_path"])
    try:
        current = sha256_file(request)
    except (FileNotFoundError, NotADirectoryError):
        return f"request source is missing for {task['id']}: {request}"
    except (OSError, InvalidInput) as exc:
        return f"request source is unreadable for {task['id']}: {request} ({exc})"
    if current != task.get("request_sha256"):
        return f"request hash mismatch for {task['id']}: expected {task.get('request_sha256')}, got {current}"
    return None


WRITE_RESPONSE = "write_response"  # task metadata: the supervisor writes the answer to response_path


def wants_answer_file(task: dict[str, Any]) -> bool:
    """Whether the task asked for its answer file (`true`, or the string a `--metadata` pair gives)."""
    metadata = task.get("metadata")
    value = metadata.get(WRITE_RESPONSE) if isinstance(metadata, dict) else None
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "1", "yes"))


def write_answer_file(task: dict[str, Any], body: str) -> Path:
    """Write an answer's body to the task's response_path (inside its workspace_root), atomically.

    What `wait` does for agent-lanes tasks, and the supervisor does when a task asks for it
    (metadata `write_response`, set by the dashboard's form and `submit --write-response`)."""
    from lanes_tui.core import fsio

    root = Path(task["workspace_root"]).resolve()
    target = require_inside(root, Path(task["response_path"]).resolve(), "response_path")
    target.parent.mkdir(parents=True, exist_ok=True)
    with fsio.open_dir(target.parent) as fd:
        fsio.write_atomic(target.name, body, dir_fd=fd, mode=0o644)
    return target


# What the detail says about a task's response file; told apart because "(written)" used to
# mean only that the store held an answer, while the file appears only when someone writes it.
FILE_WRITTEN = "written"  # the file holds the recorded answer
FILE_DIFFERS = "differs"  # a file is there, but it is not the recorded answer (edited, older)
FILE_NOT_WRITTEN = "not written"  # an answer is recorded; nobody wrote it to the file yet
FILE_NO_ANSWER = "no answer yet"
_COMPARED_MAX = 8 << 20  # larger files are judged by size alone


def response_file_state(task: dict[str, Any], answer: str | None) -> str:
    """Whether the task's response file holds its recorded answer (blocking: reads the file)."""
    if answer is None:
        return FILE_NO_ANSWER
    try:
        path = Path(str(task.get("response_path") or ""))
        info = path.stat()
    except (OSError, ValueError):
        return FILE_NOT_WRITTEN
    if not stat.S_ISREG(info.st_mode):
        return FILE_DIFFERS
    expected = answer.encode("utf-8", "surrogateescape")
    if info.st_size != len(expected):
        return FILE_DIFFERS
    if info.st_size > _COMPARED_MAX:
        return FILE_WRITTEN
    try:
        return FILE_WRITTEN if path.read_bytes() == expected else FILE_DIFFERS
    except OSError:
        return FILE_DIFFERS

