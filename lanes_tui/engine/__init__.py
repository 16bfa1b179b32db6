"""asyncio services (change feed, index, waiting); never imports Textual."""
