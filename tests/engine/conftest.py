"""Fixtures for the supervisor tests (defined in supervisor_helpers so they stay next to their helpers)."""

from .supervisor_helpers import headless, path_without_codex, standins  # noqa: F401
