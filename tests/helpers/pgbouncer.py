"""A real PgBouncer in transaction mode in front of the tests' PostgreSQL server, on a Unix
socket of its own (no TCP): what a team behind a transaction-mode pooler runs lanes-tui through.

Started in the foreground (its own process, stopped at the end), as the `postgres` system user
when the tests run as root (PgBouncer refuses to run as root). Missing, it skips the tests that
need it, except where LANES_TUI_REQUIRE_POSTGRES is set (CI).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from helpers.postgres import SUPERUSER, PostgresServer

PORT = 6432  # only names the socket file (.s.PGSQL.6432): there is no TCP listener
READY_SECONDS = 30.0


def pgbouncer_bin() -> str | None:
    return shutil.which("pgbouncer") or next((p for p in ("/usr/sbin/pgbouncer",) if os.path.exists(p)), None)


class PgBouncer:
    def __init__(self, server: PostgresServer, *, pool_size: int = 4) -> None:
        """`pool_size`: server sessions per database; the tests keep it below the clients' count,
        so sessions really are shared between them."""
        program = pgbouncer_bin()
        assert program is not None
        self.root = Path(tempfile.mkdtemp(prefix="lanes-tui-pgbouncer-"))
        self.socket_dir = self.root / "sock"
        self.socket_dir.mkdir()
        self.log = self.root / "pgbouncer.log"
        (self.root / "users.txt").write_text(f'"{SUPERUSER}" ""\n', encoding="utf-8")
        config = self.root / "pgbouncer.ini"
        config.write_text(
            "[databases]\n"
            f"* = host={server.socket_dir}\n"
            "[pgbouncer]\n"
            "listen_addr =\n"
            f"listen_port = {PORT}\n"
            f"unix_socket_dir = {self.socket_dir}\n"
            "auth_type = trust\n"
            f"auth_file = {self.root / 'users.txt'}\n"
            "pool_mode = transaction\n"
            "max_client_conn = 300\n"
            f"default_pool_size = {pool_size}\n"
            f"logfile = {self.log}\n"
            "ignore_startup_parameters = extra_float_digits,options\n",
            encoding="utf-8")
        user = None
        if os.geteuid() == 0:
            user = "postgres"
            owner = pwd.getpwnam("postgres")
            for path in (self.root, self.socket_dir, config, self.root / "users.txt"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self.process = subprocess.Popen([program, str(config)], user=user, cwd=self.root,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        socket = self.socket_dir / f".s.PGSQL.{PORT}"
        deadline = time.monotonic() + READY_SECONDS
        while not socket.exists():  # bounded: a start-up that fails or hangs fails the test
            if self.process.poll() is not None or time.monotonic() > deadline:
                error = self.process.stderr.read().decode(errors="replace") if self.process.poll() is not None else ""
                self.stop()
                raise RuntimeError(f"pgbouncer did not start: {error[-2000:]}")
            time.sleep(0.02)

    def url(self, database: str) -> str:
        return f"postgresql:///{database}?host={self.socket_dir}&port={PORT}&user={SUPERUSER}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
        shutil.rmtree(self.root, ignore_errors=True)
