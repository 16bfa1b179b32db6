"""Pure, synchronous building blocks: no asyncio, no Textual, no Rich."""
