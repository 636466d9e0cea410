"""A controllable TCP proxy: client -> 127.0.0.1:<port> -> target. The demo takes one device
offline through it (its network, not its power; TLS passes through untouched), and the tests
inject network faults with it.

Modes, switchable at any time from the test:

- ``forward``   (default) bytes flow both ways;
- ``blackhole`` connections stay open but nothing is forwarded (and new ones are accepted and
  held): a dead path, as when a router drops packets. Data already sent waits in the socket
  buffers and flows on after ``restore()``, as TCP would retransmit it;
- ``refuse``    new connections are closed at once (link down, port unreachable).

``drop()`` closes every open connection (both ends), whatever the mode. ``cut()`` is ``drop()``
plus ``refuse``; ``restore()`` goes back to ``forward``. A side that closes is half-closed
towards the other (its FIN passes on) until both have. Threads are daemons; ``close()`` lets
open connections finish for a moment, then ends everything. Counters: ``accepted`` and
``dropped`` connections, bytes each way.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time

FORWARD, BLACKHOLE, REFUSE = "forward", "blackhole", "refuse"


class _Pipe:
    def __init__(self, proxy: TcpProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.closed = threading.Event()
        self.thread = threading.Thread(target=self._run, name="tcp-proxy-pipe", daemon=True)

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()

    def _run(self) -> None:
        try:
            self._pump()
        except OSError:
            pass
        finally:
            self.close()
            self.proxy._forget(self)

    def _pump(self) -> None:
        proxy = self.proxy
        while not self.closed.is_set() and proxy.mode == BLACKHOLE:
            time.sleep(0.02)  # held: not even connected upstream yet
        if self.closed.is_set():
            return
        self.upstream = socket.create_connection(proxy.target, timeout=5)
        self.upstream.settimeout(None)
        if self.closed.is_set():
            return
        peers = {self.client: self.upstream, self.upstream: self.client}
        with selectors.DefaultSelector() as sel:
            for sock in peers:
                sel.register(sock, selectors.EVENT_READ)
            open_ends = len(peers)
            while not self.closed.is_set() and open_ends:
                if proxy.mode == BLACKHOLE:
                    time.sleep(0.02)
                    continue
                for key, _ in sel.select(timeout=0.05):
                    src = key.fileobj
                    assert isinstance(src, socket.socket)  # only sockets are registered
                    data = src.recv(65536)
                    if not data:
                        # half-close like TCP: pass the FIN on, keep the other way open until
                        # it ends too (closing at once could turn the FIN into a RST and lose
                        # the last bytes, e.g. a DISCONNECT that spares the last will)
                        sel.unregister(src)
                        open_ends -= 1
                        peers[src].shutdown(socket.SHUT_WR)
                        continue
                    if proxy.mode == BLACKHOLE:
                        # the path died mid-read: hold the bytes until it comes back
                        while proxy.mode == BLACKHOLE and not self.closed.is_set():
                            time.sleep(0.02)
                    peers[src].sendall(data)
                    if src is self.client:
                        proxy.bytes_up += len(data)
                    else:
                        proxy.bytes_down += len(data)


class TcpProxy:
    """Listen on 127.0.0.1 (a free port unless given) and forward to ``(host, port)``."""

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.mode = FORWARD
        self.accepted = 0
        self.dropped = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self._pipes: set[_Pipe] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", port))
        self._listener.listen(64)
        self._listener.settimeout(0.1)
        self.host, self.port = self._listener.getsockname()
        self._thread = threading.Thread(target=self._accept, name="tcp-proxy", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.mode == REFUSE:
                with contextlib.suppress(OSError):
                    client.close()
                continue
            client.settimeout(None)
            pipe = _Pipe(self, client)
            with self._lock:
                self.accepted += 1
                self._pipes.add(pipe)
            pipe.thread.start()

    def _forget(self, pipe: _Pipe) -> None:
        with self._lock:
            self._pipes.discard(pipe)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._pipes)

    def blackhole(self) -> None:
        """Stop forwarding without closing anything."""
        self.mode = BLACKHOLE

    def refuse(self) -> None:
        """Close new connections at once (open ones are left alone)."""
        self.mode = REFUSE

    def restore(self) -> None:
        """Forward again."""
        self.mode = FORWARD

    def drop(self) -> int:
        """Close every open connection; returns how many."""
        with self._lock:
            pipes = list(self._pipes)
            self.dropped += len(pipes)
        for pipe in pipes:
            pipe.close()
        return len(pipes)

    def cut(self) -> int:
        """Refuse new connections and drop the open ones."""
        self.refuse()
        return self.drop()

    def close(self, grace_s: float = 1.0) -> None:
        """Stop accepting; give open connections ``grace_s`` to finish (bytes in transit, such
        as a client's last DISCONNECT, still arrive), then drop what is left."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        deadline = time.monotonic() + grace_s
        while self.connections and self.mode == FORWARD and time.monotonic() < deadline:
            time.sleep(0.01)
        self.drop()
        self._thread.join(2)

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
