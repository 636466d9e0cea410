"""A device's background thread with a store connection of its own (heartbeats, retention)."""

from __future__ import annotations

import threading
from pathlib import Path

from domain.clock import Clock


class StoreThread:
    """A daemon thread named ``<kind>-<device>`` that runs :meth:`_run` from :meth:`start`
    until :meth:`stop`; ``_run`` opens its own store at :attr:`store_path` and returns when
    :attr:`_stop` is set."""

    def __init__(self, kind: str, store_path: str | Path, device: str, clock: Clock) -> None:
        self.store_path = Path(store_path)
        self.device = device
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{kind}-{device}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        raise NotImplementedError
