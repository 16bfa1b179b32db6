"""The PostgreSQL backend (the `postgres` extra: psycopg 3 and its pool), for a queue several
hosts share. Importing this package needs psycopg; the rest of lanes-tui never imports it
unless a queue URL asks for it."""

from lanes_tui.storage.postgres.backend import PostgresBackend

__all__ = ["PostgresBackend"]
