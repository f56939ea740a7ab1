"""A loopback TCP proxy a test can tell to stop passing requests on, to stop a process at an exact point.

Put between a process and a server (e.g. a consumer and Azurite), `hold()` makes every byte the process
sends from then on vanish: its next request never reaches the server and it waits for an answer that
never comes, until the test kills it. Answers already on their way back still arrive.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class HoldingProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.holding = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self) -> None:
        self.holding.set()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, destination: socket.socket, upstream: bool) -> None:
        try:
            while data := source.recv(65536):
                if upstream and self.holding.is_set():
                    continue
                destination.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, destination):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
                end.close()

    def close(self) -> None:
        self.closed = True
        self.listener.close()
