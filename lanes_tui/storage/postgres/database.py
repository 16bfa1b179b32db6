"""Connections to the queue's database, and what their failures look like to the rest of lanes-tui.

Every failure of the database (the server gone, a network partition, a pool with no free
connection in time, a statement the server refused) reaches a caller as a `StoreError` with
one line naming the queue (the URL without its password), never as a psycopg exception: the
engine treats a StoreError as the store being unusable for now (it retries, and a worker
whose lease cannot be renewed is stopped before the lease runs out), and the CLI prints it
with exit 7. Rules refused inside a transaction (ConflictError, NotFound, ...) pass through.

TCP keepalives are asked for on every connection, so a host cut off from the server notices
within about half a minute instead of the system's two hours.
"""

from __future__ import annotations

import contextlib
import threading
import urllib.parse
from typing import Any, Iterator

import psycopg
from psycopg_pool import ConnectionPool

from lanes_tui.core.errors import StoreError

POOL_SIZE = 8
POOL_TIMEOUT_SECONDS = 30.0
# A partitioned host notices within keepalives_idle + keepalives_count * keepalives_interval.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
              "connect_timeout": 10}


def redact(url: str) -> str:
    """The URL without its password, for people and logs."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def reason(exc: BaseException) -> str:
    """The first line of a database error."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact(url)
        self._pool: ConnectionPool | None = None
        self._opening = threading.Lock()

    def connect(self) -> Any:
        """A connection of its own (a listener, the supervisor's lock), autocommit."""
        try:
            return psycopg.connect(self.url, autocommit=True, **KEEPALIVES)
        except psycopg.Error as exc:
            raise StoreError(f"cannot open the queue at {self.where}: {reason(exc)}") from None

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        """A pooled autocommit connection for one verb (use `conn.transaction()` for several statements)."""
        try:
            with self._opened().connection(timeout=POOL_TIMEOUT_SECONDS) as conn:
                yield conn
        except psycopg.Error as exc:
            raise StoreError(f"the queue at {self.where} failed: {reason(exc)}") from None

    def _opened(self) -> ConnectionPool:
        with self._opening:
            if self._pool is None:
                # Opened on first use: a one-shot command pays for one connection, not a pool's worth.
                self._pool = ConnectionPool(self.url, min_size=1, max_size=POOL_SIZE, open=True, name="lanes-tui",
                                            kwargs={"autocommit": True, **KEEPALIVES}, timeout=POOL_TIMEOUT_SECONDS)
            return self._pool

    def close(self) -> None:
        with self._opening:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
