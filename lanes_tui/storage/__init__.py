"""Where the queue lives: the seam (`base.Backend`) and its backends (`files`, `memory`, `postgres`).

`open_store` is the one way the rest of lanes-tui opens a queue by its location.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lanes_tui.core.clock import Clock, system_clock

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend


def open_store(location: str | os.PathLike[str], *, clock: Clock = system_clock, create: bool = True) -> Backend:
    """The queue at `location`: an agent-lanes store folder (created unless `create` is False), or
    a `postgresql://` URL (the database's schema is created or upgraded on first use)."""
    from lanes_tui.core.handoff import is_queue_url

    if is_queue_url(location):
        return _open_postgres(str(location), clock)
    from lanes_tui.storage.files.backend import FileBackend

    return FileBackend(location, clock=clock, create=create)


def _open_postgres(url: str, clock: Clock) -> Backend:
    try:
        from lanes_tui.storage.postgres import PostgresBackend
    except ImportError as exc:
        from lanes_tui.core.errors import ConfigError

        raise ConfigError(f"a postgresql:// queue needs the postgres extra: pip install 'lanes-tui[postgres]' "
                          f"({exc.name or exc} is missing)") from None
    # The database's clock decides leases across hosts; only a test's own clock replaces it.
    return PostgresBackend(url, clock=None if clock is system_clock else clock)
