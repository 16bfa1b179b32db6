"""lanes-tui: a dashboard and supervisor for AI coding agents on an agent-lanes queue."""

__version__ = "0.1.0"
