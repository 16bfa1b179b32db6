"""lanes-tui.yaml -> frozen Settings for the supervisor (pure, like core/handoff.py for handoff.yaml).

The file sits next to handoff.yaml and every key is optional: without it the
built-in tables below apply (vendor flags and model names from agents.md and
agent-lanes' bundled dispatcher). The built-ins go through the same parser as
the user's file, so they are validated by the code that validates the file.

Strict on purpose: an unknown key anywhere, a wrong type or an out-of-range
number is a one-line ConfigError naming the file and the key path. A typo such
as `lease_second:` must not silently leave a lane on the default.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from lanes_tui.core.errors import ConfigError, NotFound
from lanes_tui.core.handoff import is_queue_url
from lanes_tui.core.paths import expand_user
from lanes_tui.core.yamlload import load_mapping
from lanes_tui.vendors.builtin import builtin_vendors
from lanes_tui.vendors.permissions import (
    DEFAULT_PRESET,
    FLAG,
    ON_DENIAL,
    PRESETS,
    READ_ONLY,
    TRUSTED,
)
from lanes_tui.vendors.pricing import Price

SETTINGS_FILE_NAME = "lanes-tui.yaml"
AUTO, WORKTREE, NO_ISOLATION = "auto", "worktree", "none"
ISOLATION = (AUTO, WORKTREE, NO_ISOLATION)
RETRY_FROM = ("base", "previous")
MAX_COMMANDS = 32
# {model} and {effort} may sit inside an item; {permissions} and {agent_tools} are always whole
# items (argv items spliced in); {workdir} (the task's working tree) may appear in a permissions entry.
PLACEHOLDERS = ("{model}", "{effort}", "{permissions}", "{agent_tools}", "{workdir}")
WHOLE_ITEM_PLACEHOLDERS = ("{permissions}", "{agent_tools}")
ENV_PLACEHOLDERS = ("{max_api_retries}",)
STREAMS = ("claude", "codex")
MAX_SECONDS = 30 * 86400.0  # a lease, timeout or backoff longer than a month is a typo
MAX_COUNT = 1024
MIB = 1 << 20

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_ENV_PATTERN = re.compile(r"[A-Za-z0-9_*?\[\]!-]+\Z")
_PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}")

# Variables every worker gets. TERM is left out on purpose: workers have no terminal.
# Proxy and CA variables are here because without them the CLIs cannot reach their
# API on corporate networks; a proxy URL can carry a password, `environment.deny` drops it.
DEFAULT_ENV_ALLOW = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LC_*", "TZ", "TMPDIR",
    "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
    "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
    "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS",
)


class LaneMode(StrEnum):
    INTERNAL = "internal"  # this supervisor claims and runs the lane's tasks
    EXTERNAL = "external"  # outside dispatchers run them; the supervisor only watches
    HYBRID = "hybrid"  # run them when a slot is free, otherwise leave them to others


@dataclass(frozen=True)
class VendorSettings:
    name: str
    executable: tuple[str, ...]  # argv prefix; [0] is a bare name (PATH) or an absolute path
    args: tuple[str, ...]  # may hold {model} / {effort}, as whole items or inside an item
    models: Mapping[str, str]  # model class (task metadata) -> vendor model name
    efforts: Mapping[str, str | tuple[str, ...]]  # level -> value for {effort}, or argv items
    stream: str = "claude"  # which stream parser reads the output; the vendor's name is only a name
    prompt_effort_hint: bool = False
    default_effort: str | None = None  # None: pass no effort, the CLI's own default applies
    models_without_effort: tuple[str, ...] = ()  # model-name globs the CLI applies no effort to
    # preset -> argv items for {permissions}; a preset missing here cannot run on this vendor
    permissions: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    prices: Mapping[str, Price] = field(default_factory=lambda: MappingProxyType({}))  # model or glob
    max_api_retries: int | None = None  # the vendor's own retries of API errors ({max_api_retries})
    env_allow: tuple[str, ...] = ()
    env_set: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # set for every worker
    enabled: bool = True


@dataclass(frozen=True)
class LaneSettings:
    mode: LaneMode = LaneMode.INTERNAL
    timeout_seconds: float = 1800.0
    lease_seconds: float = 900.0
    renew_seconds: float = 60.0
    max_attempts: int = 3
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 900.0
    permissions: str = DEFAULT_PRESET  # what its workers may do (vendors/permissions.py)
    on_denial: str = FLAG  # a run with denied tool calls: flag (complete, needs attention) or fail
    # Where its agents work: `worktree` (a git worktree and branch per task), `none` (the
    # workspace itself), or `auto`: a worktree when the preset lets the agent edit and the
    # workspace is a git repository, else none.
    isolation: str = AUTO
    setup: tuple[tuple[str, ...], ...] = ()  # argv lists run in a fresh worktree before the agent
    setup_timeout_seconds: float = 600.0
    retry_from: str = "base"  # where a new attempt's worktree starts: the base, or the previous attempt's tip
    verify: tuple[tuple[str, ...], ...] = ()  # argv lists `merge` runs on the merged result first (tests)
    verify_timeout_seconds: float = 1800.0
    # How long a request to a person (a question, a blocker, a permission) waits for an answer
    # before it is denied as expired; the attempt's timeout is held off meanwhile.
    request_timeout_seconds: float = 1800.0

    def may_isolate(self) -> bool:
        """Whether its tasks can get a worktree at all (if not, no need to ask git)."""
        return self.isolation == WORKTREE or (self.isolation == AUTO and self.permissions != READ_ONLY)

    def isolated(self, in_a_repository: bool) -> bool:
        """Whether its tasks get a worktree of their own."""
        if self.isolation == AUTO:
            return in_a_repository and self.permissions != READ_ONLY
        return self.isolation == WORKTREE

    def backoff(self, failed_attempts: int) -> float:
        """Delay before the next attempt: base * 2^(n-1), capped."""
        if failed_attempts <= 0:
            return 0.0
        exponent = min(failed_attempts - 1, 62)  # 2**62 * base already exceeds any cap
        return min(self.backoff_max_seconds, self.backoff_seconds * (2 ** exponent))


@dataclass(frozen=True)
class Concurrency:
    global_max: int = 4
    vendors: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    lanes: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    vendor_default: int = 2

    def vendor(self, name: str) -> int:
        return self.vendors.get(name, self.vendor_default)

    def lane(self, name: str) -> int | None:
        """None: no per-lane cap."""
        return self.lanes.get(name)


@dataclass(frozen=True)
class Settings:
    path: Path | None  # the file read, None when only built-ins apply
    vendors: Mapping[str, VendorSettings]
    default_vendor: str | None = None
    env_allow: tuple[str, ...] = DEFAULT_ENV_ALLOW
    env_deny: tuple[str, ...] = ()
    concurrency: Concurrency = field(default_factory=Concurrency)
    lane_defaults: LaneSettings = field(default_factory=LaneSettings)
    lanes: Mapping[str, LaneSettings] = field(default_factory=lambda: MappingProxyType({}))
    rate_limit_cooldown_seconds: float = 300.0
    # --drain gives up on tasks whose only vendor stayed unusable (rate limit, quota, missing) this long.
    drain_give_up_seconds: float = 900.0
    shutdown_grace_seconds: float = 30.0
    kill_grace_seconds: float = 5.0
    log_max_bytes: int = 16 * MIB
    output_line_max_bytes: int = 8 * MIB
    notify_command: tuple[str, ...] | None = None
    worktrees_dir: Path | None = None  # None: $XDG_DATA_HOME/lanes-tui/worktrees (gitwork/worktrees.py)
    keys: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))  # dashboard binding id -> keys
    queue_url: str | None = None  # a PostgreSQL queue instead of the handoff.yaml's folder (core/handoff.py)

    def lane(self, name: str) -> LaneSettings:
        return self.lanes.get(name, self.lane_defaults)

    def vendor(self, name: str) -> VendorSettings | None:
        return self.vendors.get(name)


BUILTIN_CONCURRENCY = {"claude": 2, "codex": 2, "demo": 4}
_TOP_KEYS = {
    "vendors", "default_vendor", "environment", "concurrency", "lane_defaults", "lanes",
    "rate_limit_cooldown_seconds", "drain_give_up_seconds", "shutdown_grace_seconds", "kill_grace_seconds",
    "log_max_bytes", "output_line_max_bytes", "notify_command", "keys", "worktrees_dir", "queue_url",
}
_BINDING_ID = re.compile(r"^[a-z][a-z0-9_.]{0,39}$")
_KEY_LIST = re.compile(r"^[A-Za-z0-9_+,.\-]{1,64}$")
_VENDOR_KEYS = {"executable", "args", "models", "efforts", "stream", "prompt_effort_hint",
                "default_effort", "models_without_effort", "permissions", "prices", "max_api_retries",
                "env", "enabled"}
_PRICE_KEYS = {"input", "output", "cache_read", "cache_write"}
MAX_PRICE = 100_000.0  # US$ per million tokens: more is a typo
_LANE_KEYS = {f for f in LaneSettings.__dataclass_fields__}


def default_settings_path(config_dir: Path) -> Path:
    return Path(config_dir) / SETTINGS_FILE_NAME


def load_settings(path: Path | str | None, *, config_dir: Path | str | None) -> Settings:
    """Read `path`, or `<config_dir>/lanes-tui.yaml` if present, else use the built-ins.

    An explicit path that does not exist is an error (the user named it); a missing
    default file is not (the built-ins are meant to work without one).
    """
    data: dict[str, Any] = {}
    source: Path | None = None
    if path is not None:
        source = Path(path).expanduser().absolute()
        try:
            data = load_mapping(source, what="settings file")
        except NotFound:
            raise ConfigError(f"settings file does not exist: {source}") from None
    elif config_dir is not None:
        candidate = default_settings_path(Path(config_dir).expanduser()).absolute()
        try:
            data = load_mapping(candidate, what="settings file")
            source = candidate
        except NotFound:
            pass
    return _Parser(source).settings(data)


def worker_environment(
    settings: Settings,
    vendor: VendorSettings | str | None,
    source_env: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment a worker starts with: allow-listed names only, then `extra`.

    Deny patterns win over allow patterns; `extra` (LANES_TASK_ID...) is set by the
    supervisor itself and is not filtered.
    """
    if isinstance(vendor, str):
        vendor = settings.vendor(vendor)
    allow = settings.env_allow + (vendor.env_allow if vendor is not None else ())
    env = {
        name: value
        for name, value in source_env.items()
        if any(fnmatch.fnmatchcase(name, p) for p in allow)
        and not any(fnmatch.fnmatchcase(name, p) for p in settings.env_deny)
    }
    env.update({str(k): str(v) for k, v in (extra or {}).items()})
    return env


def _unique(items: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))  # allow lists accumulate; repeats would only slow matching


class _Parser:
    """Validates raw YAML data; every error names the file and the key path."""

    def __init__(self, source: Path | None) -> None:
        self.source = source
        self.base = source.parent if source is not None else Path.cwd()

    def fail(self, key: str, problem: str) -> ConfigError:
        where = str(self.source) if self.source is not None else "built-in settings"
        return ConfigError(f"{where}: {key} {problem}")

    # ---- top level -------------------------------------------------------------------
    def settings(self, data: dict[str, Any]) -> Settings:
        self.known_keys(data, _TOP_KEYS, "")
        vendors = self.vendors(data.get("vendors"))
        default_vendor = self.optional_name(data.get("default_vendor"), "default_vendor")
        if default_vendor is not None and default_vendor not in vendors:
            raise self.fail("default_vendor", f"names an unknown vendor {default_vendor!r}; known: {', '.join(sorted(vendors))}")
        environment = self.mapping(data.get("environment"), "environment")
        self.known_keys(environment, {"allow", "deny"}, "environment")
        lane_defaults = self.lane(self.mapping(data.get("lane_defaults"), "lane_defaults"), LaneSettings(), "lane_defaults")
        if lane_defaults.permissions == TRUSTED:
            # The bypass modes are an opt-in of one lane at a time, never a blanket default.
            raise self.fail("lane_defaults.permissions", "cannot be trusted: set it per lane (lanes.NAME.permissions)")
        lanes_raw = self.mapping(data.get("lanes"), "lanes")
        lanes = {}
        for name, raw in lanes_raw.items():
            key = f"lanes.{self.lane_name(name, 'lanes')}"
            lanes[str(name)] = self.lane(self.mapping(raw, key), lane_defaults, key)
        notify = data.get("notify_command")
        return Settings(
            path=self.source,
            vendors=MappingProxyType(vendors),
            default_vendor=default_vendor,
            env_allow=_unique(DEFAULT_ENV_ALLOW + self.env_patterns(environment.get("allow"), "environment.allow")),
            env_deny=self.env_patterns(environment.get("deny"), "environment.deny"),
            concurrency=self.concurrency(data.get("concurrency"), vendors),
            lane_defaults=lane_defaults,
            lanes=MappingProxyType(lanes),
            rate_limit_cooldown_seconds=self.seconds(data, "rate_limit_cooldown_seconds", 300.0, "", zero=True),
            drain_give_up_seconds=self.seconds(data, "drain_give_up_seconds", 900.0, "", zero=True),
            shutdown_grace_seconds=self.seconds(data, "shutdown_grace_seconds", 30.0, "", zero=True),
            kill_grace_seconds=self.seconds(data, "kill_grace_seconds", 5.0, "", zero=True),
            log_max_bytes=self.integer(data, "log_max_bytes", 16 * MIB, "", 4096, 1 << 40),
            output_line_max_bytes=self.integer(data, "output_line_max_bytes", 8 * MIB, "", 1024, 1 << 30),
            notify_command=None if notify is None else self.strings(notify, "notify_command", non_empty=True),
            worktrees_dir=self.folder(data.get("worktrees_dir"), "worktrees_dir"),
            keys=MappingProxyType(self.keys(data.get("keys"))),
            queue_url=self.queue_url(data.get("queue_url")),
        )

    def queue_url(self, raw: Any) -> str | None:
        if raw is None:
            return None
        if not isinstance(raw, str) or not is_queue_url(raw):
            raise self.fail("queue_url", "must be a postgresql:// URL (the file store needs none: it is "
                                         "handoff.yaml's queue_root)")
        return raw

    def keys(self, raw: Any) -> dict[str, str]:
        """Dashboard key remapping: binding id -> Textual key names (`ctrl+n`, `f2,n`)."""
        keys = {}
        for name, value in self.mapping(raw, "keys").items():
            if not isinstance(name, str) or not _BINDING_ID.match(name):
                raise self.fail("keys", f"has an invalid binding id {str(name)[:40]!r}")
            if not isinstance(value, str) or not _KEY_LIST.match(value):
                raise self.fail(f"keys.{name}", "must be key names like 'ctrl+n' or 'f2,n'")
            keys[name] = value
        return keys

    # ---- vendors ---------------------------------------------------------------------
    def vendors(self, raw: Any) -> dict[str, VendorSettings]:
        user = self.mapping(raw, "vendors")
        merged = builtin_vendors()
        for name, entry in user.items():
            name = self.key_name(name, "vendors")
            if name == "any":
                raise self.fail("vendors.any", "is reserved: 'any' in required_vendor means every vendor")
            entry = self.mapping(entry, f"vendors.{name}")
            self.known_keys(entry, _VENDOR_KEYS, f"vendors.{name}")
            base = merged.get(name)
            if base is None:  # a new vendor must say how to run it
                for needed in ("executable", "models"):
                    if needed not in entry:
                        raise self.fail(f"vendors.{name}.{needed}", "is required for a vendor that is not built in")
                # Without a permissions table its argv gets no flags for any preset: what the
                # agent may do is then the executable's business (docs/settings.md says so).
                base = {"args": [], "efforts": {}, "permissions": {p: [] for p in PRESETS}}
            merged[name] = self.merge_vendor(base, entry, f"vendors.{name}")
        return {name: self.vendor(name, entry) for name, entry in merged.items()}

    def merge_vendor(self, base: dict[str, Any], entry: dict[str, Any], key: str) -> dict[str, Any]:
        """A key the user gives replaces the built-in one, except: `models`, `efforts`,
        `permissions` and `prices` merge entry by entry (null removes an entry), `env.allow`
        adds patterns and `env.set` merges (null removes a variable)."""
        out = dict(base)
        for name, value in entry.items():
            if name in ("models", "efforts", "permissions", "prices"):
                table = dict(base.get(name) or {})
                for level, item in self.mapping(value, f"{key}.{name}").items():
                    level = self.table_key(level, f"{key}.{name}")
                    if item is None:
                        table.pop(level, None)
                    else:
                        table[level] = item
                out[name] = table
            elif name == "env":
                env = self.mapping(value, f"{key}.env")
                self.known_keys(env, {"allow", "set"}, f"{key}.env")
                before = dict(base.get("env") or {})
                allow = list(before.get("allow") or []) + list(self.env_patterns(env.get("allow"), f"{key}.env.allow"))
                fixed = dict(before.get("set") or {})
                for variable, item in self.mapping(env.get("set"), f"{key}.env.set").items():
                    if item is None:
                        fixed.pop(variable, None)
                    else:
                        fixed[variable] = item
                out["env"] = {"allow": allow, "set": fixed}
            else:
                out[name] = value
        return out

    def vendor(self, name: str, raw: dict[str, Any]) -> VendorSettings:
        key = f"vendors.{name}"
        args = self.strings(raw.get("args", []), f"{key}.args")
        self.placeholders(args, f"{key}.args", PLACEHOLDERS)
        for whole in WHOLE_ITEM_PLACEHOLDERS:
            if any(whole in item and item != whole for item in args):
                raise self.fail(f"{key}.args", f"may hold {whole} only as a whole item")
        models = {}
        for cls, model in self.mapping(raw.get("models"), f"{key}.models").items():
            models[cls] = self.text(model, f"{key}.models.{cls}")
        if not models:
            raise self.fail(f"{key}.models", "must name at least one model class")
        efforts = self.efforts(raw.get("efforts"), args, key)
        stream = raw.get("stream", "claude")
        if not isinstance(stream, str) or stream not in STREAMS:
            raise self.fail(f"{key}.stream", f"must be one of {', '.join(STREAMS)} (got {str(stream)[:40]!r})")
        default_effort = raw.get("default_effort")
        if default_effort is not None:
            default_effort = self.text(default_effort, f"{key}.default_effort")
            if default_effort not in efforts:
                raise self.fail(f"{key}.default_effort", f"{default_effort!r} is not in {key}.efforts")
        permissions = self.permissions(raw.get("permissions"), args, key)
        env = self.mapping(raw.get("env"), f"{key}.env")
        max_retries = raw.get("max_api_retries")
        if max_retries is not None:
            max_retries = self.integer(raw, "max_api_retries", 0, key, 0, 100)
        env_set = {}
        for variable, value in self.mapping(env.get("set"), f"{key}.env.set").items():
            where = f"{key}.env.set.{variable}"
            if not isinstance(variable, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,127}", variable):
                raise self.fail(f"{key}.env.set", f"has an invalid variable name {str(variable)[:40]!r}")
            value = self.text(value, where)
            self.placeholders((value,), where, ENV_PLACEHOLDERS)
            if "{max_api_retries}" in value and max_retries is None:
                raise self.fail(where, f"uses {{max_api_retries}} but {key}.max_api_retries is not set")
            env_set[variable] = value.replace("{max_api_retries}", str(max_retries))
        return VendorSettings(
            name=name,
            executable=self.executable(raw.get("executable"), f"{key}.executable"),
            args=args,
            models=MappingProxyType(models),
            efforts=MappingProxyType(efforts),
            stream=stream,
            prompt_effort_hint=self.boolean(raw.get("prompt_effort_hint", False), f"{key}.prompt_effort_hint"),
            default_effort=default_effort,
            models_without_effort=self.strings(raw.get("models_without_effort", []), f"{key}.models_without_effort"),
            permissions=MappingProxyType(permissions),
            prices=MappingProxyType(self.prices(raw.get("prices"), key)),
            max_api_retries=max_retries,
            env_allow=_unique(self.env_patterns(env.get("allow"), f"{key}.env.allow")),
            env_set=MappingProxyType(env_set),
            enabled=self.boolean(raw.get("enabled", True), f"{key}.enabled"),
        )

    def placeholders(self, items: tuple[str, ...], key: str, known: tuple[str, ...]) -> None:
        for item in items:
            for token in _PLACEHOLDER.findall(item):
                if token not in known:
                    raise self.fail(key, f"has unknown placeholder {token} (known: {', '.join(known)})")

    def permissions(self, raw: Any, args: tuple[str, ...], key: str) -> dict[str, tuple[str, ...]]:
        """preset -> argv items. A vendor with flags for a preset must have {permissions} in its
        args, or the flags could never reach the command line (a silent no-op)."""
        out: dict[str, tuple[str, ...]] = {}
        for preset, items in self.mapping(raw, f"{key}.permissions").items():
            where = f"{key}.permissions.{preset}"
            if preset not in PRESETS:
                raise self.fail(where, f"is not a permission preset (known: {', '.join(PRESETS)})")
            out[preset] = self.strings(items, where)
            self.placeholders(out[preset], where, ("{workdir}",))
            if out[preset] and "{permissions}" not in args:
                raise self.fail(where, f"gives flags but {key}.args has no {{permissions}} placeholder")
        return out

    def prices(self, raw: Any, key: str) -> dict[str, Price]:
        out = {}
        for model, entry in self.mapping(raw, f"{key}.prices").items():
            where = f"{key}.prices.{self.table_key(model, f'{key}.prices')}"
            entry = self.mapping(entry, where)
            self.known_keys(entry, _PRICE_KEYS, where)
            for needed in ("input", "output"):
                if needed not in entry:
                    raise self.fail(f"{where}.{needed}", "is required (US$ per million tokens)")
            values = {}
            for name in _PRICE_KEYS:
                value = entry.get(name, 0)
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                        or not 0 <= value <= MAX_PRICE:
                    raise self.fail(f"{where}.{name}", f"must be a number from 0 to {MAX_PRICE:g} (got {value!r})")
                values[name] = float(value)
            out[str(model)] = Price(**values)
        return out

    def efforts(self, raw: Any, args: tuple[str, ...], key: str) -> dict[str, str | tuple[str, ...]]:
        """A level maps to a string (the value of {effort}) or a list (argv items that
        replace a whole-item {effort}; [] adds nothing). Checked against `args` so that
        a table whose values can never reach argv is an error, not a silent no-op."""
        whole = "{effort}" in args
        inside = any("{effort}" in item and item != "{effort}" for item in args)
        out: dict[str, str | tuple[str, ...]] = {}
        for level, value in self.mapping(raw, f"{key}.efforts").items():
            where = f"{key}.efforts.{level}"
            if isinstance(value, list):
                items = self.strings(value, where)
                if inside:
                    raise self.fail(where, f"must be a string: {key}.args uses {{effort}} inside an item")
                if items and not whole:
                    raise self.fail(where, f"is a list of argv items, which needs {{effort}} as a whole item in {key}.args")
                out[level] = items
            else:
                text = self.text(value, where)
                if not (whole or inside):
                    raise self.fail(where, f"gives a value but {key}.args has no {{effort}} placeholder")
                out[level] = text
        return out

    def executable(self, raw: Any, key: str) -> tuple[str, ...]:
        if isinstance(raw, str):
            if not raw.strip() or any(c.isspace() for c in raw):
                raise self.fail(key, f"must be a program name or path without spaces (got {raw!r}); "
                                     "give a list like [python3, -m, pkg] for a command with arguments")
            parts = (raw,)
        elif isinstance(raw, list) and raw:
            parts = self.strings(raw, key, non_empty=True)
        else:
            raise self.fail(key, "must be a program name, a path, or a non-empty list of strings")
        program = parts[0]
        if "/" in program or program.startswith("~"):
            # Relative paths are relative to the settings file, like paths in handoff.yaml.
            path = Path(program).expanduser()
            program = str(path if path.is_absolute() else (self.base / path).absolute())
        return (program, *parts[1:])

    # ---- lanes and concurrency ---------------------------------------------------------
    def lane(self, raw: dict[str, Any], base: LaneSettings, key: str) -> LaneSettings:
        self.known_keys(raw, _LANE_KEYS, key)
        mode = raw.get("mode", base.mode)
        if not isinstance(mode, str) or mode not in {m.value for m in LaneMode}:
            raise self.fail(f"{key}.mode", f"must be one of {', '.join(m.value for m in LaneMode)}")
        lane = LaneSettings(
            mode=LaneMode(mode),
            timeout_seconds=self.seconds(raw, "timeout_seconds", base.timeout_seconds, key),
            lease_seconds=self.seconds(raw, "lease_seconds", base.lease_seconds, key),
            renew_seconds=self.seconds(raw, "renew_seconds", base.renew_seconds, key),
            max_attempts=self.integer(raw, "max_attempts", base.max_attempts, key, 1, 100),
            backoff_seconds=self.seconds(raw, "backoff_seconds", base.backoff_seconds, key, zero=True),
            backoff_max_seconds=self.seconds(raw, "backoff_max_seconds", base.backoff_max_seconds, key, zero=True),
            permissions=self.choice(raw, "permissions", base.permissions, key, PRESETS),
            on_denial=self.choice(raw, "on_denial", base.on_denial, key, ON_DENIAL),
            isolation=self.choice(raw, "isolation", base.isolation, key, ISOLATION),
            setup=self.commands(raw, "setup", base.setup, key),
            setup_timeout_seconds=self.seconds(raw, "setup_timeout_seconds", base.setup_timeout_seconds, key),
            retry_from=self.choice(raw, "retry_from", base.retry_from, key, RETRY_FROM),
            verify=self.commands(raw, "verify", base.verify, key),
            verify_timeout_seconds=self.seconds(raw, "verify_timeout_seconds", base.verify_timeout_seconds, key),
            request_timeout_seconds=self.seconds(raw, "request_timeout_seconds", base.request_timeout_seconds, key),
        )
        # Renewing no more often than the lease lasts would let the lease lapse under a live worker.
        if lane.renew_seconds >= lane.lease_seconds:
            raise self.fail(f"{key}.renew_seconds", f"must be less than lease_seconds ({lane.lease_seconds:g})")
        if lane.backoff_max_seconds < lane.backoff_seconds:
            raise self.fail(f"{key}.backoff_max_seconds", f"must be at least backoff_seconds ({lane.backoff_seconds:g})")
        return lane

    def concurrency(self, raw: Any, vendors: dict[str, VendorSettings]) -> Concurrency:
        data = self.mapping(raw, "concurrency")
        self.known_keys(data, {"global", "vendors", "lanes"}, "concurrency")
        caps = {name: BUILTIN_CONCURRENCY.get(name, 2) for name in vendors}
        for name, value in self.mapping(data.get("vendors"), "concurrency.vendors").items():
            name = self.key_name(name, "concurrency.vendors")
            if name not in vendors:
                raise self.fail(f"concurrency.vendors.{name}", f"names an unknown vendor; known: {', '.join(sorted(vendors))}")
            caps[name] = self.integer({name: value}, name, 0, "concurrency.vendors", 1, MAX_COUNT)
        lanes = {}
        for name, value in self.mapping(data.get("lanes"), "concurrency.lanes").items():
            name = self.lane_name(name, "concurrency.lanes")
            lanes[name] = self.integer({name: value}, name, 0, "concurrency.lanes", 1, MAX_COUNT)
        return Concurrency(
            global_max=self.integer(data, "global", 4, "concurrency", 1, MAX_COUNT),
            vendors=MappingProxyType(caps),
            lanes=MappingProxyType(lanes),
        )

    # ---- scalar helpers ----------------------------------------------------------------
    def known_keys(self, data: dict[str, Any], allowed: set[str], key: str) -> None:
        for name in data:
            if name not in allowed:
                where = f"{key}.{name}" if key else str(name)
                raise self.fail(where, f"is not a known setting (known: {', '.join(sorted(allowed))})")

    def mapping(self, raw: Any, key: str) -> dict[Any, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(key, "must be a mapping")
        return raw

    def key_name(self, raw: Any, key: str) -> str:
        if isinstance(raw, bool) or not isinstance(raw, (str, int)) or not _NAME.match(str(raw)):
            raise self.fail(key, f"has an invalid name {raw!r} (letters, digits, '_', '.', '-'; at most 64)")
        return str(raw)

    def lane_name(self, raw: Any, key: str) -> str:
        # Lanes are free-form strings in agent-lanes, so only what cannot be a name is refused.
        text = str(raw) if isinstance(raw, (str, int)) and not isinstance(raw, bool) else ""
        if not text.strip() or len(text) > 200 or not text.isprintable():
            raise self.fail(key, f"has an invalid lane name {raw!r}")
        return text

    def table_key(self, raw: Any, key: str) -> str:
        if isinstance(raw, bool) or not isinstance(raw, (str, int)) or not str(raw).strip():
            raise self.fail(key, f"has an invalid entry name {raw!r}")
        return str(raw)

    def optional_name(self, raw: Any, key: str) -> str | None:
        return None if raw is None else self.key_name(raw, key)

    def text(self, raw: Any, key: str) -> str:
        # Strings only: YAML turns `5` or `yes` into numbers and booleans, and a command line or
        # a model name that silently became one is a typo waiting to run (issue 10's fuzz).
        if not isinstance(raw, str) or not raw or "\x00" in raw:
            kind = "" if isinstance(raw, str) else f" (got a {type(raw).__name__}: quote it)"
            raise self.fail(key, f"must be a non-empty string{kind}")
        return raw

    def strings(self, raw: Any, key: str, *, non_empty: bool = False) -> tuple[str, ...]:
        if not isinstance(raw, list) or (non_empty and not raw):
            raise self.fail(key, "must be a non-empty list of strings" if non_empty else "must be a list of strings")
        return tuple(self.text(item, f"{key}[{i}]") for i, item in enumerate(raw))

    def commands(self, data: dict[str, Any], name: str, default: tuple[tuple[str, ...], ...],
                 key: str) -> tuple[tuple[str, ...], ...]:
        """A list of argv lists (never shell strings): `[[npm, ci], [make, build]]`."""
        if name not in data:
            return default
        raw, path = data[name], f"{key}.{name}"
        if not isinstance(raw, list) or len(raw) > MAX_COMMANDS:
            raise self.fail(path, f"must be a list of at most {MAX_COMMANDS} commands, each a list of strings "
                                  "(argv, no shell): [[npm, ci]]")
        return tuple(self.strings(item, f"{path}[{i}]", non_empty=True) for i, item in enumerate(raw))

    def folder(self, raw: Any, key: str) -> Path | None:
        if raw is None:
            return None
        path = expand_user(self.text(raw, key), key)
        return path if path.is_absolute() else (self.base / path).absolute()

    def choice(self, data: dict[str, Any], name: str, default: str, key: str, allowed: tuple[str, ...]) -> str:
        value = data.get(name, default)
        if not isinstance(value, str) or value not in allowed:
            shown = repr(value)[:40] if isinstance(value, str) else type(value).__name__
            raise self.fail(f"{key}.{name}", f"must be one of {', '.join(allowed)} (got {shown})")
        return value

    def boolean(self, raw: Any, key: str) -> bool:
        if not isinstance(raw, bool):
            raise self.fail(key, "must be true or false")
        return raw

    def env_patterns(self, raw: Any, key: str) -> tuple[str, ...]:
        if raw is None:
            return ()
        patterns = self.strings(raw, key)
        for pattern in patterns:
            if not _ENV_PATTERN.match(pattern):
                raise self.fail(key, f"has an invalid variable name or pattern {pattern!r}")
        return patterns

    def seconds(self, data: dict[str, Any], name: str, default: float, key: str, *, zero: bool = False) -> float:
        value = data.get(name, default)
        path = f"{key}.{name}" if key else name
        bound = ">= 0" if zero else "> 0"
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < 0 or (value == 0 and not zero) or value > MAX_SECONDS:
            raise self.fail(path, f"must be a number {bound} and at most {MAX_SECONDS:.0f} (got {value!r})")
        return float(value)

    def integer(self, data: dict[str, Any], name: str, default: int, key: str, low: int, high: int) -> int:
        value = data.get(name, default)
        path = f"{key}.{name}" if key else name
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.fail(path, f"must be a whole number from {low} to {high} (got {value!r})")
        return value
