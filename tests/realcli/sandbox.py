"""Run a command in a loopback-only network namespace with the model-API stand-in.

Started by the tests as `unshare --net -- python sandbox.py OPTIONS -- COMMAND...`
(so it is the first process of a fresh network namespace that has only `lo`):

1. brings `lo` up and routes every other address to it as well ("AnyIP"), so a
   connection or DNS query aimed at the internet does not fail inside the
   kernel unseen but becomes a packet on `lo`;
2. captures every packet on `lo` (an AF_PACKET socket; root only) and records
   each new TCP connection and UDP datagram that is not addressed to the stand-in,
   with the host name of DNS queries;
3. serves the model-API stand-in (`model_api.py`) on 127.0.0.1:PORT, the one
   address the CLIs may reach;
4. runs COMMAND (its pid in --pid-file), passing SIGTERM, SIGINT and SIGHUP on,
   and exits with its status (128 + n for a signal), after writing the
   attempts it saw to --net-log as a JSON list.

Nothing here reaches outside the namespace: the stand-in and the capture live
and die inside it. Files (the store, the logs) are shared with the test, which
reads them directly.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import model_api  # noqa: E402 - this file runs as a script, beside model_api.py

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
API_HOST = "127.0.0.1"


class Capture:
    """Every outgoing TCP connection attempt and UDP datagram on lo, but those to `allowed`."""

    def __init__(self, allowed: set[tuple[str, int]]) -> None:
        self.allowed = allowed
        self.attempts: list[dict[str, object]] = []
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.bind(("lo", 0))
        self._sock.settimeout(0.2)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            try:
                packet, address = self._sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if address[2] == PACKET_OUTGOING:
                self._inspect(packet)

    def finish(self) -> list[dict[str, object]]:
        """Stop, after reading what the kernel already queued for us."""
        self._done.set()
        self._thread.join()
        self._sock.setblocking(False)
        while True:
            try:
                packet, address = self._sock.recvfrom(65535)
            except (BlockingIOError, OSError):
                break
            if address[2] == PACKET_OUTGOING:
                self._inspect(packet)
        self._sock.close()
        return self.attempts

    def _inspect(self, packet: bytes) -> None:
        if len(packet) < 14:
            return
        ethertype = struct.unpack("!H", packet[12:14])[0]
        data = packet[14:]
        if ethertype == 0x0800 and len(data) >= 20:
            header = (data[0] & 0x0F) * 4
            proto = data[9]
            dst = str(ipaddress.IPv4Address(data[16:20]))
            payload = data[header:]
        elif ethertype == 0x86DD and len(data) >= 40:
            proto = data[6]
            dst = str(ipaddress.IPv6Address(data[24:40]))
            payload = data[40:]
        else:
            return
        if proto == 6 and len(payload) >= 14:
            port = struct.unpack("!H", payload[2:4])[0]
            flags = payload[13]
            if flags & 0x02 and not flags & 0x10 and (dst, port) not in self.allowed:  # SYN, no ACK
                self.attempts.append({"proto": "tcp", "to": dst, "port": port})
        elif proto == 17 and len(payload) >= 8:
            port = struct.unpack("!H", payload[2:4])[0]
            entry: dict[str, object] = {"proto": "udp", "to": dst, "port": port}
            if port == 53:
                entry["dns"] = _dns_name(payload[8:])
            self.attempts.append(entry)


def _dns_name(message: bytes) -> str:
    labels, offset = [], 12
    while offset < len(message):
        size = message[offset]
        if size == 0 or size > 63:
            break
        labels.append(message[offset + 1: offset + 1 + size].decode("ascii", "replace"))
        offset += 1 + size
    return ".".join(labels)


def loopback_only() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "route", "add", "local", "0.0.0.0/0", "dev", "lo"], check=True)
    # IPv6 may be disabled in the kernel; then there is no IPv6 route to catch either.
    subprocess.run(["ip", "-6", "route", "add", "local", "::/0", "dev", "lo"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenario", type=Path, required=True)
    parser.add_argument("--api-log", type=Path, required=True)
    parser.add_argument("--net-log", type=Path, required=True)
    parser.add_argument("--pid-file", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command")

    loopback_only()
    capture = Capture({(API_HOST, args.port)})
    server = model_api.serve((API_HOST, args.port), json.loads(args.scenario.read_text()), args.api_log)
    child = subprocess.Popen(command)
    if args.pid_file is not None:
        tmp = args.pid_file.with_suffix(".tmp")
        tmp.write_text(str(child.pid))
        os.replace(tmp, args.pid_file)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    status = child.wait()
    server.stopping.set()
    server.shutdown()
    attempts = capture.finish()
    tmp = args.net_log.with_suffix(".tmp")
    tmp.write_text(json.dumps(attempts))
    os.replace(tmp, args.net_log)
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
