"""Which host this process is, as the queue's records name it (claim owners, locks, presence).

The machine's name by default. `LANES_TUI_HOST_ID` overrides it: containers that share a
hostname, or several simulated hosts on one machine (the multi-host tests), must still be
told apart, since a host trusts its own pid checks only for records of its own name.
"""

from __future__ import annotations

import os
import socket

from lanes_tui.core.errors import ConfigError

HOST_ID_ENV = "LANES_TUI_HOST_ID"
_NOT_IN_A_HOST_ID = frozenset(":/@") | {chr(c) for c in range(33)} | {"\x7f"}


def this_host() -> str:
    """This host's identity (ConfigError for an unusable override: a claim owner is
    `lanes-tui@<host>:<pid>`, so ':' or '@' in a host would make owners ambiguous)."""
    chosen = os.environ.get(HOST_ID_ENV, "").strip()
    if not chosen:
        return socket.gethostname()
    if len(chosen) > 100 or set(chosen) & _NOT_IN_A_HOST_ID:
        raise ConfigError(f"{HOST_ID_ENV} must be up to 100 characters without spaces, ':', '/' or '@'")
    return chosen
