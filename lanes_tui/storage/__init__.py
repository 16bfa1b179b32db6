"""Where the queue lives: the seam (`base.Backend`) and its backends (`files`, `memory`).

`open_store` is the one way the rest of lanes-tui opens a queue by its location.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lanes_tui.core.clock import Clock, system_clock

if TYPE_CHECKING:
    from lanes_tui.storage.base import Backend


def open_store(location: str | os.PathLike[str], *, clock: Clock = system_clock, create: bool = True) -> Backend:
    """The queue at `location`: an agent-lanes store folder (created unless `create` is False)."""
    from lanes_tui.storage.files.backend import FileBackend

    return FileBackend(location, clock=clock, create=create)
