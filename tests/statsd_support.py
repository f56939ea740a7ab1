"""A real statsd listener for tests: a UDP socket on 127.0.0.1 that the service's statsd client sends to."""

from __future__ import annotations

import socket


class StatsdListener:
    def __init__(self, prefix: str = ""):
        self.prefix = prefix  # removed from every name `metrics()` returns, and required on it
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self._received: list[tuple[str, str, str]] = []

    def receive(self, count: int, timeout: float = 2.0) -> list[str]:
        """Wait for the next `count` raw metric lines, in arrival order."""
        self.socket.settimeout(timeout)
        lines: list[str] = []
        while len(lines) < count:
            lines.extend(self.socket.recv(65535).decode().splitlines())
        return lines

    def metrics(self) -> list[tuple[str, str, str]]:
        """Every (name without the prefix, value, type) received so far; loopback delivery is immediate."""
        self.socket.settimeout(0)
        while True:
            try:
                packet = self.socket.recv(65535).decode()
            except BlockingIOError:
                break
            for line in packet.splitlines():
                name, rest = line.split(":", 1)
                value, kind = rest.split("|")[:2]
                assert name.startswith(self.prefix), name
                self._received.append((name.removeprefix(self.prefix), value, kind))
        return list(self._received)

    def names(self, kind: str | None = None) -> list[str]:
        return [name for name, _, k in self.metrics() if kind is None or k == kind]

    def close(self) -> None:
        self.socket.close()
