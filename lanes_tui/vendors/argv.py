"""Vendor choice and worker argv, built only from the settings tables (pure).

Task metadata (required_vendor, model_class, effort) is used as a lookup key and
nothing else: what reaches argv is the table's value, never the metadata text,
so `--dangerously-skip-permissions` or `$(touch x)` in metadata cannot become a
flag or shell code (reliability.md, fault row 22). The argv is a list for
exec, never a shell string, and holds no prompt: prompts go on stdin (row 21).
"""

from __future__ import annotations

import fnmatch
import os
import shutil
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Collection, Mapping

from lanes_tui.core.errors import InvalidInput
from lanes_tui.vendors.agent_tools_flags import ToolsServer, attach_env, attach_flags
from lanes_tui.vendors.permissions import DEFAULT_PRESET

if TYPE_CHECKING:  # settings imports core; core must not import it at run time
    from lanes_tui.settings import VendorSettings

ANY = "any"
PREFERRED_VENDORS = ("claude", "codex")  # then the others alphabetically; demo only on request
DEMO = "demo"


@dataclass(frozen=True)
class Command:
    argv: tuple[str, ...]
    vendor: str
    model: str  # the vendor's model name (from the table)
    effort: str | None  # the effort level passed (a key of the table); None: none was passed
    prompt_prefix: str = ""  # put before the prompt on stdin (an effort hint, if the vendor wants one)
    permissions: str = DEFAULT_PRESET  # the preset its argv carries
    stream: str = "claude"  # which parser reads its output
    env: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # the vendor's fixed variables
    agent_tools: bool = False  # its argv gives the agent lanes-tui's MCP server


@dataclass(frozen=True)
class VendorChoice:
    """Either a vendor to run the task on, or why not.

    `invalid` tells the two "why not"s apart: True means no configuration can run
    the task as written (fail it with `reason`); False means it waits (an
    executable is missing, a vendor is disabled or unknown here) with `reason` shown.
    """

    vendor: VendorSettings | None
    reason: str = ""
    invalid: bool = False


def executable_path(vendor: VendorSettings) -> str | None:
    """The program that would run, or None. PATH is read now, not at start-up, so
    installing a CLI while the supervisor runs is noticed."""
    program = vendor.executable[0]
    if os.path.isabs(program):
        ok = os.path.isfile(program) and os.access(program, os.X_OK)
        return program if ok else None
    return shutil.which(program)


def executable_available(vendor: VendorSettings) -> bool:
    return executable_path(vendor) is not None


def missing_reason(vendor: VendorSettings) -> str:
    program = vendor.executable[0]
    if os.path.isabs(program):
        return f"vendor {vendor.name}: executable {program} does not exist or is not executable"
    return f"vendor {vendor.name}: executable {program!r} not found on PATH"


def build_command(vendor: VendorSettings, model_class: Any, effort: Any, *,
                  permissions: str = DEFAULT_PRESET, workdir: str | os.PathLike[str] = ".",
                  agent_tools: ToolsServer | None = None) -> Command:
    """argv for one attempt. Unknown model class, effort or preset -> InvalidInput (fail the task).

    `permissions` is the preset already narrowed for the task (core.permissions); `workdir`
    the task's working tree, made absolute so that it can never read as a flag;
    `agent_tools` the MCP server for a whole-item `{agent_tools}` (None: that item adds nothing).
    """
    model = vendor.models[_model_key(vendor, model_class)]
    level = _effort_key(vendor, effort)
    if level is not None and any(fnmatch.fnmatchcase(model, p) for p in vendor.models_without_effort):
        level = None  # the CLI would drop it silently: record that nothing was applied
    value: str | tuple[str, ...] = vendor.efforts[level] if level is not None else ()
    if permissions not in vendor.permissions:
        raise InvalidInput(f"vendor {vendor.name} has no {permissions!r} permission preset; "
                           f"it has: {', '.join(vendor.permissions) or 'none'}")
    where = os.path.abspath(os.fspath(workdir))
    preset = tuple(item.replace("{workdir}", where) for item in vendor.permissions[permissions])
    argv: list[str] = list(vendor.executable)
    for item in vendor.args:
        if item == "{effort}":
            # A whole-item placeholder takes a string as one item, or splices a list (maybe empty).
            argv.extend((value,) if isinstance(value, str) else value)
            continue
        if item == "{permissions}":
            argv.extend(preset)
            continue
        if item == "{agent_tools}":
            argv.extend(attach_flags(vendor.stream, agent_tools))
            continue
        if "{model}" in item:
            item = item.replace("{model}", model)
        if "{effort}" in item:  # settings guarantee a string here, when an effort is passed
            item = item.replace("{effort}", value if isinstance(value, str) else "")
        argv.append(item.replace("{workdir}", where))
    prefix = f"[Reasoning effort: {level}]\n\n" if vendor.prompt_effort_hint and level else ""
    attached = agent_tools is not None and "{agent_tools}" in vendor.args
    env = MappingProxyType({**vendor.env_set, **attach_env(vendor.stream, agent_tools)}) if attached else vendor.env_set
    return Command(argv=tuple(argv), vendor=vendor.name, model=model, effort=level, prompt_prefix=prefix,
                   permissions=permissions, stream=vendor.stream, env=env, agent_tools=attached)


def resolve_vendor(
    vendors: Mapping[str, VendorSettings],
    available: Callable[[VendorSettings], bool] | Collection[str] | None,
    required_vendor: Any,
    *,
    model_class: Any = None,
    effort: Any = None,
    permissions: str = DEFAULT_PRESET,
    default_vendor: str | None = None,
) -> VendorChoice:
    """Which vendor runs a task.

    A named vendor is used as is (waiting while its executable is missing). `any`
    or no vendor tries, in order: `default_vendor`, claude, codex, the other vendors
    alphabetically, skipping disabled vendors and `demo` (picked only when named or
    when it is the default_vendor), and skipping vendors whose tables do not know
    the task's model_class/effort or have no flags for its permission preset.
    `available` defaults to an executable check.
    """
    is_available = _availability(available)
    if required_vendor is not None and not isinstance(required_vendor, str):
        return VendorChoice(None, f"required_vendor must be a string, got {type(required_vendor).__name__}", True)
    wanted = (required_vendor or "").strip() or ANY
    if wanted != ANY:
        vendor = vendors.get(wanted)
        if vendor is None:
            # required_vendor is opaque in the protocol: an outside dispatcher may serve it.
            return VendorChoice(None, f"vendor {_show(wanted)} is not configured here; known: {', '.join(sorted(vendors))}")
        problem = _table_problem(vendor, model_class, effort, permissions)
        if problem:
            return VendorChoice(None, problem, True)
        if not vendor.enabled:
            return VendorChoice(None, f"vendor {vendor.name} is disabled in the settings")
        if not is_available(vendor):
            return VendorChoice(None, missing_reason(vendor))
        return VendorChoice(vendor)

    candidates = [vendors[name] for name in _preference(vendors, default_vendor) if vendors[name].enabled]
    if not candidates:
        return VendorChoice(None, "no vendor is enabled in the settings")
    fitting = [v for v in candidates if not _table_problem(v, model_class, effort, permissions)]
    if not fitting:
        problems = "; ".join(str(_table_problem(v, model_class, effort, permissions)) for v in candidates)
        return VendorChoice(None, f"no vendor can run this task: {problems}", True)
    for vendor in fitting:
        if is_available(vendor):
            return VendorChoice(vendor)
    return VendorChoice(None, "no vendor available: " + "; ".join(missing_reason(v) for v in fitting))


def _preference(vendors: Mapping[str, VendorSettings], default_vendor: str | None) -> list[str]:
    order = [default_vendor] if default_vendor in vendors else []
    order += [n for n in PREFERRED_VENDORS if n in vendors]
    order += sorted(n for n in vendors if n not in PREFERRED_VENDORS and n != DEMO)
    seen: list[str] = []
    for name in order:
        if name not in seen:
            seen.append(name)
    return seen


def _availability(available: Any) -> Callable[[VendorSettings], bool]:
    if available is None:
        return executable_available
    if callable(available):
        return available
    names = frozenset(available)
    return lambda vendor: vendor.name in names


def _table_problem(vendor: VendorSettings, model_class: Any, effort: Any, permissions: str) -> str | None:
    try:
        _model_key(vendor, model_class)
        _effort_key(vendor, effort)
    except InvalidInput as exc:
        return str(exc)
    if permissions not in vendor.permissions:
        return f"vendor {vendor.name} has no {permissions!r} permission preset"
    return None


def _model_key(vendor: VendorSettings, model_class: Any) -> str:
    key = _metadata_text(model_class, "model_class") or ANY
    if key not in vendor.models:
        raise InvalidInput(
            f"unknown model_class {_show(key)} for vendor {vendor.name}; known: {', '.join(sorted(vendor.models))}"
        )
    return key


def _effort_key(vendor: VendorSettings, effort: Any) -> str | None:
    key = _metadata_text(effort, "effort") or vendor.default_effort
    if key is None:
        return None
    if key not in vendor.efforts:
        raise InvalidInput(f"unknown effort {_show(key)} for vendor {vendor.name}; known: {', '.join(sorted(vendor.efforts))}")
    return key


def _metadata_text(value: Any, name: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string, got {type(value).__name__}")
    return value.strip()


def _show(value: str, limit: int = 60) -> str:
    """Metadata echoed in a reason: repr escapes control bytes; long values are cut."""
    return repr(value if len(value) <= limit else value[:limit] + "...")
