"""Submitting a task from a form (the dashboard's `n`): validation and defaults.

The CLI's `submit` takes flags; the dashboard takes a filled-in form whose
empty fields have sensible defaults. An inline prompt with no request file gets
one generated in the workspace (the prompt is the request), and an empty
response path gets a fresh file name beside it, so typing a prompt is enough.
Every problem is an `InvalidInput` naming the field, for the form to show.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lanes_tui.core import fsio
from lanes_tui.core.errors import ConfigError, InvalidInput, LanesError
from lanes_tui.core.handoff import RuntimeConfig
from lanes_tui.core.paths import expand_user
from lanes_tui.core.store import MAX_TASK_BYTES, TaskStore, require_inside
from lanes_tui.core.taskfile import load_task_file

GENERATED_DIR = "lanes-tui-requests"  # under the config folder (handoff/), inside the workspace
_LANE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_META_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class SubmitForm:
    lane: str = ""
    task_file: str = ""  # a task definition (tasks/*.yaml); inline fields override it
    prompt: str = ""
    request_path: str = ""
    response_path: str = ""
    vendor: str = ""  # "" or "any": whichever is available
    model_class: str = ""
    effort: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


class FieldError(InvalidInput):
    """A form field is wrong: `field_name` says which, for the form to point at it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name


def parse_metadata(text: str) -> dict[str, str]:
    """`key=value` pairs separated by commas or newlines (the form's extra metadata)."""
    pairs: dict[str, str] = {}
    for item in re.split(r"[,\n]", text):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not _META_KEY.match(key):
            raise FieldError("metadata", f"metadata must be key=value pairs (bad item: {item[:40]!r})")
        pairs[key] = value.strip()
    return pairs


# metadata key -> the form field that holds it (for pointing at the culprit)
_FIELD_OF = {"model_class": "model_class", "effort": "effort", "required_vendor": "vendor"}


def submit_form(store: TaskStore, config: RuntimeConfig, form: SubmitForm, *, source_agent: str,
                check: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Validate `form`, fill its defaults, write a generated request if needed, and submit.

    `check(lane, metadata)` raises InvalidInput for metadata no vendor could run (the same
    check as `submit`'s, core.runcheck); it runs before anything is written."""
    fields: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    base = config.workspace_root
    if form.task_file.strip():
        path = _resolve(base, form.task_file.strip())
        try:
            definition = load_task_file(path)
        except (ConfigError, LanesError, OSError) as exc:
            raise FieldError("task_file", str(exc)) from None
        fields.update(definition.fields)
        metadata.update(definition.metadata)
        if "prompt_file" in fields and not form.prompt.strip():
            prompt_path = _resolve(definition.path.parent, fields["prompt_file"])
            _inside(base, prompt_path, "task_file", "prompt_file")
            try:
                fields["prompt"] = prompt_path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise FieldError("task_file", f"cannot read prompt_file {prompt_path}: {exc}") from None
    for name in ("lane", "prompt"):
        value = getattr(form, name)
        if value.strip():
            fields[name] = value if name == "prompt" else value.strip()
    lane = str(fields.get("lane") or "").strip()
    if not _LANE.match(lane):
        raise FieldError("lane", "lane: letters, digits, '.', '_' or '-', up to 64 characters")
    prompt = str(fields.get("prompt") or "")
    if not prompt.strip() and not form.request_path.strip() and not fields.get("request_from"):
        raise FieldError("prompt", "write a prompt (or pick a task file or a request file)")
    if len(prompt.encode("utf-8")) > MAX_TASK_BYTES:
        raise FieldError("prompt", f"prompt is too large (limit {MAX_TASK_BYTES} bytes)")
    for name, key in (("vendor", "required_vendor"), ("model_class", "model_class"), ("effort", "effort")):
        value = getattr(form, name).strip()
        if value and value != "any":
            if not _META_KEY.match(value):
                raise FieldError(name, f"{name.replace('_', ' ')}: a short name, not {value[:40]!r}")
            metadata[key] = value
    metadata.update(form.metadata)
    if check is not None:
        try:
            check(lane, metadata)
        except InvalidInput as exc:
            key = str(exc).removeprefix("metadata.").split(":", 1)[0]
            raise FieldError(_FIELD_OF.get(key, "metadata"), str(exc)) from None

    stamp = store.now().strftime("%Y%m%dT%H%M%S%f")
    generated = config.path.parent / GENERATED_DIR
    request_raw = form.request_path.strip() or fields.get("request_from") or ""
    if request_raw:
        request = _inside(base, _resolve(base, request_raw), "request_path", "request file")
        if not request.is_file():
            raise FieldError("request_path", f"request file does not exist: {request}")
    else:
        request = _inside(base, generated / f"{stamp}-request.md", "request_path", "generated request")
        _write_new(request, f"# Request ({lane})\n\n{prompt}\n")
    response_raw = form.response_path.strip() or fields.get("response_to") or ""
    response = _inside(base, _resolve(base, response_raw) if response_raw else generated / f"{stamp}-response.md",
                       "response_path", "response file")
    worktree = fields.get("worktree_path") or config.worktree_path
    try:
        return store.create_task(
            workspace_id=config.workspace_id,
            correlation_id=Path(form.task_file).stem if form.task_file.strip() else lane,
            source_agent=source_agent,
            lane=lane,
            workspace_root=base,
            request_path=request,
            response_path=response,
            prompt=prompt,
            worktree_path=Path(worktree) if worktree else None,
            expected_branch=fields.get("branch") or config.expected_branch,
            supporting_paths=fields.get("supporting_paths") or [],
            metadata=metadata,
        )
    except InvalidInput as exc:
        raise FieldError("metadata" if "metadata" in str(exc) else "prompt", str(exc)) from None


def _resolve(base: Path, raw: str) -> Path:
    if "\x00" in raw:
        raise FieldError("request_path", "a path contains a NUL byte")
    path = expand_user(raw)
    return (path if path.is_absolute() else base / path).resolve()


def _inside(root: Path, path: Path, field_name: str, what: str) -> Path:
    try:
        return require_inside(root, path, what)
    except InvalidInput as exc:
        raise FieldError(field_name, str(exc)) from None


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with fsio.open_dir(path.parent) as fd:
        fsio.write_atomic(path.name, text, dir_fd=fd, mode=0o600)
