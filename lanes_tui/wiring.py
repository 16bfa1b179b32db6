"""The one way lanes-tui is put together: handoff config -> backend -> engine -> app.

The dashboard, `--no-ui`, `demo`, the tests' dashboards and snapshot scenes, and the
screenshots script all build what they run here, so they run the same thing:

    queue = open_queue("handoff/handoff.yaml")      # config, supervisor settings, backend
    engine = build_engine(queue, watch_only=False)  # the engine service (engine/service.py)
    app = build_app(engine, queue)                  # the dashboard (Textual, imported only here)

Textual is imported by `build_app` alone, so the headless paths never load it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from lanes_tui.core.clock import Clock, system_clock
from lanes_tui.core.errors import ConfigError
from lanes_tui.core.handoff import RuntimeConfig, is_queue_url, load_config
from lanes_tui.core.paths import expand_user
from lanes_tui.settings import Settings, load_settings
from lanes_tui.storage import open_store

if TYPE_CHECKING:
    from datetime import datetime

    from lanes_tui.engine.service import Engine
    from lanes_tui.storage.base import Backend
    from lanes_tui.ui.app import LanesApp

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Queue:
    """What an engine is built on: the queue, how to supervise it, and what to call it."""

    store: Backend
    settings: Settings
    config: RuntimeConfig | None  # None: opened on a bare store (submitting needs the workspace)
    name: str  # the header's queue name


def open_queue(config: PathLike | None = None, *, store: PathLike | None = None, settings: PathLike | None = None,
               settings_override: dict[str, Any] | None = None, backend: Backend | None = None,
               clock: Clock = system_clock) -> Queue:
    """The queue named by a handoff.yaml (`config`), or a bare store folder (`store` alone, when
    no handoff.yaml is there). `settings`: a lanes-tui.yaml (default: the one beside handoff.yaml);
    `settings_override`: fields replaced on the loaded settings (demo's default vendor);
    `backend`: a backend already open (the in-memory one), used instead of the config's store."""
    loaded: RuntimeConfig | None = None
    if is_queue_url(store) and (config is None or not Path(config).exists()):
        supervisor_settings = load_settings(settings, config_dir=None)
        opened = backend or open_store(str(store), clock=clock)
        return Queue(opened, replace(supervisor_settings, **(settings_override or {})), None, opened.location)
    if store is not None and (config is None or not Path(config).exists()):
        store_root = expand_user(store, "--store").resolve()
        supervisor_settings = load_settings(settings, config_dir=None)
        if backend is None and not store_root.is_dir():
            raise ConfigError(f"no queue at {store_root}: run `lanes-tui init` first, or pass --store")
        name = store_root.name
    else:
        loaded = load_config(config if config is not None else "handoff/handoff.yaml", store_override=store,
                             settings_path=settings)
        store_root = loaded.store_location
        supervisor_settings = load_settings(settings, config_dir=loaded.path.parent)
        name = loaded.workspace_id
    if settings_override:
        supervisor_settings = replace(supervisor_settings, **settings_override)
    # A configured queue not used yet is created, as submit would.
    return Queue(backend or open_store(store_root, clock=clock), supervisor_settings, loaded, name)


def build_engine(queue: Queue, *, watch_only: bool = False, drain: bool = False, claim: bool = True,
                 operator: str | None = None) -> "Engine":
    """`claim=False`: supervising, but its supervisor is never started (a recorded run is shown
    with `Engine.replay`: the snapshot scenes and screenshots)."""
    from lanes_tui.engine.service import Engine

    return Engine(queue.store, queue.settings, config=queue.config, watch_only=watch_only, drain=drain,
                  claim=claim, operator=operator)


def build_app(engine: "Engine", queue: Queue, *, now: "Callable[[], datetime] | None" = None,
              theme_dirs: Iterable[Path] | None = None, tick_seconds: float = 1.0,
              notify: Callable[[str, str], None] | None = None,
              keymap: dict[str, str] | None = None) -> "LanesApp":
    """The dashboard on `engine`. Without `notify`, the settings' notify_command (if any) runs
    for its notifications; without `keymap`, the settings' keys apply."""
    from lanes_tui.engine.notify_hook import NotifyHook
    from lanes_tui.ui.app import LanesApp

    if notify is None and queue.settings.notify_command:
        notify = NotifyHook(queue.settings.notify_command)
    keymap = dict(queue.settings.keys) if keymap is None else keymap
    return LanesApp(engine, queue_name=queue.name, now=now, keymap=keymap,
                    theme_dirs=theme_dirs, notify=notify, tick_seconds=tick_seconds)
