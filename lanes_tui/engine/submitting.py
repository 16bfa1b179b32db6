"""Submitting a task: the one pipeline behind `submit`, the dashboard's form and the Python API.

A `Submission` says what to queue; `submit` checks it with one set of rules,
fills the defaults, writes a generated request when asked to, and creates the
task. What differs between the callers is said by two arguments, not by
separate code: `base` (relative paths: the working directory for the CLI, as
agent-lanes resolves them; the workspace for the form and the API) and
`generate` (an inline prompt with no request file gets one written in the
workspace and an answer file named beside it, for the form and the API; the
CLI requires both, as agent-lanes does).

Every problem is a `FieldError` (a bad value, exit 5) or a `MissingField` (a
required one left out, exit 64), naming the field, for the form to point at.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from lanes_tui.core import fsio
from lanes_tui.core.errors import (
    ConfigError,
    InvalidInput,
    LanesError,
    NotFound,
    UsageError,
)
from lanes_tui.core.handoff import RuntimeConfig
from lanes_tui.core.paths import expand_user
from lanes_tui.core.request_files import WRITE_RESPONSE, require_inside
from lanes_tui.core.taskfile import load_task_file
from lanes_tui.core.titles import TITLE_KEY, check_title
from lanes_tui.gitwork.identity import IDENTITY_KEY, repository_identity

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend

GENERATED_DIR = "lanes-tui-requests"  # under the config folder (handoff/), inside the workspace
MAX_PROMPT_BYTES = 32 << 20
MAX_LANE_CHARS = 200
_META_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Submission:
    lane: str = ""
    prompt: str | None = None  # None: the task file's, or prompt_file's
    prompt_file: str = ""
    task_file: str = ""  # a task definition (tasks/*.yaml); the fields above override it
    request: str = ""  # request_from
    response: str = ""  # response_to
    worktree: str = ""
    branch: str = ""
    correlation_id: str = ""
    title: str = ""  # metadata.title: what the dashboard's rows show (else the prompt's first line)
    metadata: dict[str, Any] = field(default_factory=dict)


class FieldError(InvalidInput):
    """A field is wrong: `field_name` says which, for the form to point at it."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name


def _blame(exc: LanesError, field_name: str) -> LanesError:
    """`exc` as it is (its kind and exit code: a missing file stays exit 4, a bad task file 6),
    naming the field at fault for the form."""
    exc.field_name = field_name  # type: ignore[attr-defined]
    return exc


class MissingField(UsageError):
    """A required field is missing (exit 64, as a missing option is)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field_name = field_name


def submit(store: Backend, config: RuntimeConfig, sub: Submission, *, source_agent: str, base: Path,
           generate: bool, check: Callable[[str, dict[str, Any]], None] | None = None,
           warn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Check `sub`, fill its defaults, write a generated request if `generate`, create the task.

    `check(lane, metadata)` raises InvalidInput for metadata no vendor could run (core.runcheck);
    like every other check it runs before anything is written."""
    fields: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    prompt_base = base
    if sub.task_file.strip():
        try:
            definition = load_task_file(_resolve(base, sub.task_file.strip(), "task_file"))
        except (NotFound, ConfigError) as exc:
            raise _blame(exc, "task_file") from None
        if definition.unknown_keys and warn is not None:
            warn(f"task file {definition.path} has unknown keys (ignored): {', '.join(definition.unknown_keys)}")
        fields.update(definition.fields)
        metadata.update(definition.metadata)
        prompt_base = definition.path.parent  # its prompt_file is relative to the task file
    for name, key in (("lane", "lane"), ("request", "request_from"), ("response", "response_to"),
                      ("worktree", "worktree_path"), ("branch", "branch")):
        value = getattr(sub, name)
        if value and value.strip():
            fields[key] = value.strip()
    if sub.prompt is not None and sub.prompt.strip():
        fields["prompt"] = sub.prompt
        fields.pop("prompt_file", None)
    if sub.prompt_file.strip():
        fields["prompt_file"] = sub.prompt_file.strip()
        fields.pop("prompt", None)
        prompt_base = base
    metadata.update(sub.metadata)
    if sub.title.strip():
        try:
            metadata[TITLE_KEY] = check_title(sub.title)
        except ValueError as exc:
            raise FieldError("title", f"title: {exc}") from None

    lane = _lane(fields.get("lane"))
    prompt = str(fields.get("prompt") or "")
    if fields.get("prompt_file"):
        prompt = _read_prompt(config, _resolve(prompt_base, fields["prompt_file"], "prompt_file"))
    if len(prompt.encode("utf-8")) > MAX_PROMPT_BYTES:
        raise FieldError("prompt", f"prompt is too large (limit {MAX_PROMPT_BYTES} bytes)")
    if check is not None:
        check(lane, metadata)

    workspace = config.workspace_root
    generated = config.path.parent / GENERATED_DIR
    stamp = store.now().strftime("%Y%m%dT%H%M%S%f")
    request_raw, response_raw = fields.get("request_from"), fields.get("response_to")
    if not generate:
        if not request_raw:
            raise MissingField("request", "submit requires --request-from (either inline or via --task)")
        if not response_raw:
            raise MissingField("response", "submit requires --response-to (either inline or via --task)")
    elif not request_raw and not prompt.strip():
        raise FieldError("prompt", "write a prompt (or pick a task file or a request file)")
    if request_raw:
        request = _inside(workspace, _resolve(base, request_raw, "request"), "request", "request_path")
        if not request.is_file():
            raise _blame(NotFound(f"request file does not exist: {request}"), "request")
    else:
        request = _inside(workspace, generated / f"{stamp}-request.md", "request", "generated request")
    response = _inside(workspace, _resolve(base, response_raw, "response") if response_raw
                       else generated / f"{stamp}-response.md", "response", "response_path")
    if not request_raw:
        _write_new(request, f"# Request ({lane})\n\n{prompt}\n")
        _ignore_generated(generated)
    if IDENTITY_KEY not in metadata:
        # Which repository, in terms every host can check (paths do not cross hosts).
        identity = repository_identity(workspace)
        if identity is not None:
            metadata[IDENTITY_KEY] = identity
    worktree = fields.get("worktree_path") or config.worktree_path
    correlation = sub.correlation_id or (Path(sub.task_file).stem if sub.task_file.strip() else lane)
    try:
        return store.create_task(
            workspace_id=config.workspace_id,
            correlation_id=correlation,
            source_agent=source_agent,
            lane=lane,
            workspace_root=workspace,
            request_path=request,
            response_path=response,
            prompt=prompt,
            worktree_path=Path(worktree) if worktree else None,
            expected_branch=fields.get("branch") or config.expected_branch,
            supporting_paths=fields.get("supporting_paths") or [],
            metadata=metadata,
        )
    except InvalidInput as exc:
        where = "response" if "response_path" in str(exc) else "metadata" if "metadata" in str(exc) else "prompt"
        raise FieldError(where, str(exc)) from None


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


def short_name(field_name: str, value: str) -> str:
    """A vendor, model class or effort typed into a form: a name, not a sentence."""
    value = value.strip()
    if value and not _META_KEY.match(value):
        raise FieldError(field_name, f"{field_name.replace('_', ' ')}: a short name, not {value[:40]!r}")
    return value


def _lane(raw: Any) -> str:
    # agent-lanes takes any lane text; only what cannot be a lane's name is refused here.
    lane = str(raw or "").strip()
    if not lane:
        raise MissingField("lane", "submit requires --lane (either inline or via --task)")
    if len(lane) > MAX_LANE_CHARS or not lane.isprintable():
        raise FieldError("lane", f"lane: at most {MAX_LANE_CHARS} printable characters, not {lane[:40]!r}")
    return lane


def _read_prompt(config: RuntimeConfig, path: Path) -> str:
    _inside(config.workspace_root, path, "prompt_file", "prompt_file")
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_PROMPT_BYTES + 1)
    except FileNotFoundError:
        raise _blame(NotFound(f"prompt file does not exist: {path}"), "prompt_file") from None
    except OSError as exc:
        raise FieldError("prompt_file", f"cannot read prompt file {path}: {exc.strerror}") from None
    if len(data) > MAX_PROMPT_BYTES:
        raise FieldError("prompt_file", f"prompt file {path} is too large (limit {MAX_PROMPT_BYTES} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FieldError("prompt_file", f"prompt file {path} is not UTF-8 text") from None


def _resolve(base: Path, raw: str, field_name: str) -> Path:
    try:
        path = expand_user(raw, field_name.replace("_", " "))
    except (InvalidInput, ConfigError) as exc:
        raise FieldError(field_name, str(exc)) from None
    return (path if path.is_absolute() else Path(base) / path).resolve()


def _inside(root: Path, path: Path, field_name: str, what: str) -> Path:
    try:
        return require_inside(root, path, what)
    except InvalidInput as exc:
        raise FieldError(field_name, str(exc)) from None


def _ignore_generated(folder: Path) -> None:
    """A `.gitignore` of `*` in the generated requests' folder: prompts typed into the form are
    queue input, not project files, and must not show up in `git status` or a commit."""
    marker = folder / ".gitignore"
    if not marker.exists():
        with contextlib.suppress(OSError):  # a read-only tree: the task still goes in
            _write_new(marker, "# lanes-tui: requests written for prompts typed into the dashboard\n*\n")


def _write_new(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with fsio.open_dir(path.parent) as fd:
        fsio.write_atomic(path.name, text, dir_fd=fd, mode=0o600)


@dataclass(frozen=True)
class SubmitForm:
    """The dashboard's form as typed: the pipeline's fields plus vendor, model class and effort,
    which become metadata. Relative paths are relative to the workspace."""

    lane: str = ""
    task_file: str = ""
    prompt: str = ""
    title: str = ""
    request_path: str = ""
    response_path: str = ""
    vendor: str = ""  # "" or "any": whichever is available
    model_class: str = ""
    effort: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


# the pipeline's field (or a metadata key) -> the form's field that holds it
_FORM_FIELD = {"request": "request_path", "response": "response_path", "model_class": "model_class",
               "effort": "effort", "required_vendor": "vendor", "prompt_file": "task_file",
               "permissions": "permissions"}


def submit_form(store: Backend, config: RuntimeConfig, form: SubmitForm, *, source_agent: str,
                check: Callable[[str, dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """`submit` for the form: paths relative to the workspace, a request written for an inline
    prompt; every problem a FieldError naming the form's field."""
    metadata: dict[str, Any] = {}
    for name, key in (("vendor", "required_vendor"), ("model_class", "model_class"), ("effort", "effort")):
        value = short_name(name, getattr(form, name))
        if value and value != "any":
            metadata[key] = value
    # The form's user watches the dashboard, not a `wait`: the answer file is written on completion.
    metadata.setdefault(WRITE_RESPONSE, True)
    metadata.update(form.metadata)

    def checked(lane: str, wanted: dict[str, Any]) -> None:
        if check is None:
            return
        try:
            check(lane, wanted)
        except InvalidInput as exc:
            raise _blame(exc, str(exc).removeprefix("metadata.").split(":", 1)[0]) from None

    sub = Submission(lane=form.lane, prompt=form.prompt or None, task_file=form.task_file, title=form.title,
                     request=form.request_path, response=form.response_path, metadata=metadata)
    try:
        return submit(store, config, sub, source_agent=source_agent, base=config.workspace_root, generate=True,
                      check=checked)
    except LanesError as exc:
        where = getattr(exc, "field_name", "prompt")
        message = "lane: a lane is required" if isinstance(exc, MissingField) and where == "lane" else str(exc)
        raise FieldError(_FORM_FIELD.get(where, where if where in _FORM_FIELDS else "metadata"), message) from None


_FORM_FIELDS = frozenset(SubmitForm.__dataclass_fields__)

__all__ = ["FieldError", "GENERATED_DIR", "MissingField", "SubmitForm", "Submission", "parse_metadata",
           "short_name", "submit", "submit_form"]
