"""A network partition between one simulated host and the PostgreSQL server, on one machine.

The test servers listen on a Unix socket only (tests/helpers/postgres.py), so a host cannot be
cut off with a firewall rule. Instead the host reaches the server through `PartitionProxy`: a
forwarder in the test process that listens where libpq looks for a server (`.s.PGSQL.<port>`
in a folder of its own; a URL's `host=` names that folder) and copies bytes to and from the
real socket.

`partition()` makes it a blackhole: it stops reading from every socket, both ways, and
accepts no new connection, but closes nothing. That is what a cut network looks like to a
client (its calls hang without an error; its new connections time out) and to the server
(the session stays, idle, with whatever it holds). `heal()` resumes the copying where it
stopped: the bytes sent meanwhile arrive late and in order, as TCP delivers them once a short
partition ends. A side the other closed (the server restarted, a backend terminated) is
closed on to the other once the proxy forwards again.
"""

from __future__ import annotations

import contextlib
import selectors
import shutil
import socket
import tempfile
import threading
from pathlib import Path

CHUNK = 64 * 1024
SOCKET_BASE_MAX = 60  # a Unix socket's path holds at most 107 bytes: the folder is kept short


class _Pipe:
    """One client connection and its upstream twin, with what each side still has to receive."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.peer = {client: server, server: client}
        self.pending: dict[socket.socket, bytearray] = {client: bytearray(), server: bytearray()}
        self.eof: set[socket.socket] = set()  # sides that sent EOF: the peer is shut once drained

    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(self.peer)


class PartitionProxy:
    def __init__(self, server_socket: Path) -> None:
        base = tempfile.gettempdir() if len(tempfile.gettempdir()) <= SOCKET_BASE_MAX else "/tmp"
        self.socket_dir = Path(tempfile.mkdtemp(prefix="lanes-px-", dir=base))
        self._upstream = str(server_socket)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.socket_dir / server_socket.name))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self._selector = selectors.DefaultSelector()
        self._pipes: dict[socket.socket, _Pipe] = {}
        self._lock = threading.Lock()
        self._partitioned = False
        self._blackholed = threading.Event()  # set by the thread once it forwards nothing
        self._wake_read, self._wake_write = socket.socketpair()
        self._closed = False
        self.connections = 0  # accepted so far
        self._watching: dict[socket.socket, int] = {}  # what the selector watches each socket for
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, daemon=True, name="partition-proxy")
        self._thread.start()

    # -- control (any thread) ------------------------------------------------------------------

    def partition(self, timeout: float = 10.0) -> None:
        """Cut the host off; returns once not one more byte is copied either way."""
        with self._lock:
            self._partitioned = True
            self._blackholed.clear()
        self._wake()
        if not self._blackholed.wait(timeout):
            raise AssertionError("the proxy did not stop forwarding")

    def heal(self) -> None:
        with self._lock:
            self._partitioned = False
        self._wake()

    @property
    def partitioned(self) -> bool:
        return self._partitioned

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._wake()
        self._thread.join(10)
        for sock in list(self._pipes):
            with contextlib.suppress(OSError):
                sock.close()
        for sock in (self._listener, self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                sock.close()
        self._selector.close()
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_write.send(b"x")

    # -- the forwarding thread -------------------------------------------------------------------

    def _run(self) -> None:
        applied: bool | None = None  # the partition state the selector's registrations follow
        while True:
            with self._lock:
                if self._closed:
                    return
                partitioned = self._partitioned
            if partitioned != applied:
                self._follow_partition(partitioned)
                applied = partitioned
            for key, events in self._selector.select():
                sock = key.fileobj
                if sock is self._wake_read:
                    with contextlib.suppress(OSError):
                        self._wake_read.recv(CHUNK)
                elif self._partitioned:
                    break  # cut off since select() returned: not one more byte
                elif sock is self._listener:
                    self._accept()
                elif sock in self._pipes:
                    pipe = self._pipes[sock]  # type: ignore[index]
                    if events & selectors.EVENT_WRITE:
                        self._send_pending(sock)  # type: ignore[arg-type]
                    if events & selectors.EVENT_READ and sock in self._pipes:
                        self._receive(sock)  # type: ignore[arg-type]
                    self._watch_pipe(pipe)

    def _follow_partition(self, partitioned: bool) -> None:
        """Watch nothing but the wake-up while partitioned (the blackhole), everything otherwise."""
        self._watch(self._listener, 0 if partitioned else selectors.EVENT_READ)
        for pipe in {id(pipe): pipe for pipe in self._pipes.values()}.values():
            self._watch_pipe(pipe)
        if partitioned:
            self._blackholed.set()

    def _watch_pipe(self, pipe: _Pipe) -> None:
        for sock in pipe.sockets():
            if sock not in self._pipes:
                continue  # dropped meanwhile
            events = 0 if sock in pipe.eof else selectors.EVENT_READ
            if pipe.pending[sock]:
                events |= selectors.EVENT_WRITE
            self._watch(sock, 0 if self._partitioned else events)

    def _watch(self, sock: socket.socket, events: int) -> None:
        """Register, change or drop `sock` in the selector, only when its events change."""
        current = self._watching.get(sock, 0)
        if events == current:
            return
        if current == 0:
            self._selector.register(sock, events)
        elif events == 0:
            self._selector.unregister(sock)
        else:
            self._selector.modify(sock, events)
        if events:
            self._watching[sock] = events
        else:
            self._watching.pop(sock, None)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            server.connect(self._upstream)
        except OSError:
            client.close()  # the server is down: the client sees its connection refused-like end
            server.close()
            return
        client.setblocking(False)
        server.setblocking(False)
        pipe = _Pipe(client, server)
        self._pipes[client] = self._pipes[server] = pipe
        self.connections += 1
        self._watch_pipe(pipe)

    def _receive(self, sock: socket.socket) -> None:
        pipe = self._pipes[sock]
        try:
            data = sock.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._end(pipe, sock)
            return
        peer = pipe.peer[sock]
        pipe.pending[peer] += data
        self._send_pending(peer)

    def _send_pending(self, sock: socket.socket) -> None:
        pipe = self._pipes[sock]
        buffer = pipe.pending[sock]
        while buffer:
            try:
                sent = sock.send(buffer)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop(pipe)
                return
            del buffer[:sent]
        if pipe.peer[sock] in pipe.eof:
            self._drop(pipe)  # the other side had ended and all it said has arrived

    def _end(self, pipe: _Pipe, sock: socket.socket) -> None:
        """One side closed: pass the close on once what it said before has been delivered."""
        pipe.eof.add(sock)
        if not pipe.pending[pipe.peer[sock]]:
            self._drop(pipe)

    def _drop(self, pipe: _Pipe) -> None:
        for sock in pipe.sockets():
            self._watch(sock, 0)
            self._pipes.pop(sock, None)
            with contextlib.suppress(OSError):
                sock.close()


def socket_of(server_socket_dir: Path, port: int = 5432) -> Path:
    """Where libpq finds a server that listens in `server_socket_dir` (the default port's name)."""
    return Path(server_socket_dir) / f".s.PGSQL.{port}"


def via(url: str, proxy: PartitionProxy, server_socket_dir: Path) -> str:
    """The same database's URL through the proxy: `host=` names the proxy's folder instead."""
    old = f"host={server_socket_dir}"
    assert old in url, url
    return url.replace(old, f"host={proxy.socket_dir}")

