"""The agent-lanes v0.1 file store: the embedded default backend."""
