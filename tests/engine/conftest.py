"""Fixtures for the supervisor tests (defined in helpers/supervisor.py, next to the helpers they use)."""

from helpers.supervisor import headless, path_without_codex, standins  # noqa: F401
