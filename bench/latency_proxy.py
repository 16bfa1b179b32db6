"""A Unix-socket relay that adds a fixed round-trip time, for benchmarks of a queue across a network.

The bench's PostgreSQL server listens on a Unix socket only (no TCP port may be opened), so a
network between hosts is imitated: clients connect to `.s.PGSQL.<port>` in this relay's own
folder, and every chunk read from either side is written to the other half the round trip
later (each direction keeps its order, several chunks can be in flight, as on a real link).
The relay runs its own event loop in a thread of the bench process.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import threading
import time
from pathlib import Path

CHUNK = 64 * 1024


class LatencyProxy:
    def __init__(self, server_socket: Path, rtt_seconds: float) -> None:
        self.delay = rtt_seconds / 2  # each direction
        self.socket_dir = Path(tempfile.mkdtemp(prefix="lanes-rtt-", dir="/tmp"))
        self._path = str(self.socket_dir / server_socket.name)
        self._upstream = str(server_socket)
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="latency-proxy")
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the latency proxy did not start")

    def url(self, database_url: str) -> str:
        """`database_url` (host= the server's socket folder) through this relay."""
        return database_url.replace(f"host={Path(self._upstream).parent}", f"host={self.socket_dir}")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_unix_server(self._serve, path=self._path))
        self._ready.set()
        self._loop.run_forever()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        # Cancelled only when the relay closes: ended quietly, not reported as an error.
        with contextlib.suppress(asyncio.CancelledError, OSError):
            server_reader, server_writer = await asyncio.open_unix_connection(self._upstream)
            await asyncio.gather(self._pump(client_reader, server_writer), self._pump(server_reader, client_writer),
                                 return_exceptions=True)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)  # the link's latency, not a synchronisation
                writer.write(data)
                await writer.drain()
            writer.close()

        delivering = asyncio.ensure_future(deliver())
        try:
            while data := await reader.read(CHUNK):
                queue.put_nowait((time.monotonic() + self.delay, data))
        finally:
            queue.put_nowait((0.0, b""))
            await delivering

    async def _shutdown(self) -> None:
        self._server.close()
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self._loop.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)
