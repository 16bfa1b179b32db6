"""What a database administrator (or bad luck) does to the test server while clients use it.

`restart` is `pg_ctl restart -m fast` on a `PostgresServer` (tests/helpers/postgres.py): every
session is ended, the server comes back on the same socket. `terminate_backends` ends the
sessions of one client from a connection of the test's own (pg_stat_activity names a
client by the `application_name` its URL gives; `named` adds that to a URL).
"""

from __future__ import annotations

import subprocess
import urllib.parse
from typing import Any

ADMIN_APPLICATION = "lanes-tui-chaos-admin"


def named(url: str, application_name: str) -> str:
    """The URL with `application_name` set, so that pg_stat_activity tells its sessions apart."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}application_name={urllib.parse.quote(application_name)}"


def restart(server) -> None:
    """`pg_ctl restart -m fast`, waited for; the server's own log and options (postmaster.opts)."""
    done = subprocess.run([str(server.bin / "pg_ctl"), "-D", str(server.data), "-l", str(server.log), "-m", "fast",
                           "-w", "-t", "120", "restart"], capture_output=True, text=True, user=server.user,
                          cwd=server.root, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"pg_ctl restart failed ({done.returncode}): {done.stderr[-3000:]}")


def admin_connection(server) -> Any:
    import psycopg  # here: a test module imports this helper before the fixture skips without psycopg

    return psycopg.connect(named(server.url(), ADMIN_APPLICATION), autocommit=True)


def backends_of(conn: Any, database: str, application_name: str) -> list[int]:
    rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = %s "
                        "AND pid <> pg_backend_pid()", (database, application_name)).fetchall()
    return [row[0] for row in rows]


def terminate_backends(server, database: str, application_name: str, *, share: float = 1.0,
                       choose=None) -> int:
    """End `share` of that client's sessions (`choose(pids, k)` picks which, e.g. random.sample);
    how many were ended."""
    with admin_connection(server) as conn:
        pids = backends_of(conn, database, application_name)
        count = max(1, round(len(pids) * share)) if pids else 0
        picked = choose(pids, count) if choose is not None else pids[:count]
        return sum(1 for pid in picked
                   if conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0])
