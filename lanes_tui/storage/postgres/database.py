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

from lanes_tui.core.errors import ConfigError, StoreError

POOL_SIZE = 8
POOL_TIMEOUT_SECONDS = 30.0
# A partitioned host notices within keepalives_idle + keepalives_count * keepalives_interval.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
              "connect_timeout": 10}
# A session that stops answering in the middle of a transaction (its host cut off, frozen) keeps
# its row locks until the server notices it is gone, which TCP alone takes hours to: every other
# host's verb on those tasks would wait behind it, their rescue included. The server ends such a
# session after this long when it waits between statements ("idle in transaction"), well within
# the 30 s after which another host may take the cut-off host's tasks (registry.DEAD_AFTER_SECONDS);
# one stopped in a pipeline, which this does not reach, the live supervisors end (stuck_sessions.py).
IDLE_IN_TRANSACTION_SECONDS = 10


# Options of lanes-tui's own in a queue URL's query (libpq would refuse them): taken out before
# the URL reaches psycopg, kept in the address other processes get (a worker's MCP server).
URL_OPTIONS = {"lanes_pooler": ("session", "transaction")}


def split_options(url: str) -> tuple[str, dict[str, str]]:
    """The URL for libpq, and lanes-tui's options from its query (ConfigError for an unknown
    one or value: a typo must not quietly give the default)."""
    # By hand, not urlunsplit: that drops the `//` of a URL without a host (postgresql:///db?host=/run).
    base, _, rest = url.partition("?")
    text, hash_mark, fragment = rest.partition("#")
    query = urllib.parse.parse_qsl(text, keep_blank_values=True)
    ours = {key: value for key, value in query if key.startswith("lanes_")}
    if not ours:
        return url, {}
    for key, value in ours.items():
        allowed = URL_OPTIONS.get(key)
        if allowed is None or value not in allowed:
            known = ", ".join(f"{name}={'|'.join(values)}" for name, values in URL_OPTIONS.items())
            raise ConfigError(f"queue URL option {key}={value!r} is not one lanes-tui knows ({known})")
    kept = urllib.parse.urlencode([(key, value) for key, value in query if not key.startswith("lanes_")])
    return base + (f"?{kept}" if kept else "") + hash_mark + fragment, ours


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
    def __init__(self, url: str, *, transaction_pooler: bool = False) -> None:
        self.url = url
        self.where = redact(url)
        self._pool: ConnectionPool | None = None
        self._opening = threading.Lock()
        # A transaction-mode pooler hands each transaction to any server session: a statement
        # prepared on one is unknown to the next, so none are prepared.
        self._options: dict[str, Any] = {"autocommit": True, **KEEPALIVES}
        if transaction_pooler:
            self._options["prepare_threshold"] = None

    def connect(self) -> Any:
        """A connection of its own (a listener, the supervisor's lock), autocommit."""
        try:
            return psycopg.connect(self.url, **self._options)
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

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Any]:
        """A pooled connection in one transaction, pipelined: statements whose results are not
        read are sent without waiting for the server, so a verb's writes and its COMMIT cost one
        round trip, which is what a claim across a network is made of."""
        with self.connection() as conn, conn.pipeline(), conn.transaction():
            yield conn

    def _opened(self) -> ConnectionPool:
        with self._opening:
            if self._pool is None:
                # Opened on first use: a one-shot command pays for one connection, not a pool's worth.
                self._pool = ConnectionPool(self.url, min_size=1, max_size=POOL_SIZE, open=True, name="lanes-tui",
                                            kwargs=self._options, timeout=POOL_TIMEOUT_SECONDS,
                                            configure=_end_abandoned_transactions)
            return self._pool

    def close(self) -> None:
        with self._opening:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


def _end_abandoned_transactions(conn: Any) -> None:
    """Every pooled session (the ones that run the verbs' transactions): IDLE_IN_TRANSACTION_SECONDS."""
    conn.execute(f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_SECONDS}s'")
