"""The in-memory backend (one process, nothing durable)."""

from lanes_tui.storage.memory.backend import MemoryBackend

__all__ = ["MemoryBackend"]
