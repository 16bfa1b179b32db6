"""Chaos runs: the queue kept whole while hosts, workers, sessions and the server fail (issue 14)."""
