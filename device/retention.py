"""Retention of a device's store: the oldest acknowledged events deleted once a day.

An event leaves the device's store only when the centre has acknowledged it (it is stored
there) and it is older than ``[mqtt] keep_acked_days`` by the wall clock (the customer keeps
records at least 30 days on the device). Events not yet acknowledged are never deleted, only a
prefix of the log goes and the hash chain stays whole (:meth:`device.store.EventStore.prune`).
The state a restart rebuilds is in the store's checkpoint, not in the old events.

A stand-alone device (no MQTT) is never acknowledged, so it keeps everything for a later
``counterside centre import``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from device.store import EventStore
from device.store_thread import StoreThread
from domain.clock import Clock, rate_of

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 24 * 3600.0
"""Seconds between two prunes (of the device's clock: an accelerated clock's day passes
sooner)."""

FIRST_PRUNE_S = 300.0
"""Seconds after start before the first prune: not while the device starts up."""


def prune_old(store: EventStore, clock: Clock, keep_days: int) -> int:
    """Delete the acknowledged events older than ``keep_days`` before the clock's wall time;
    returns how many."""
    cutoff = clock.now().wall - timedelta(days=keep_days)
    pruned = store.prune(cutoff)
    if pruned:
        log.info("%s: %d acknowledged events from before %s deleted", store.path, pruned,
                 cutoff.isoformat(timespec="seconds"))  # fmt: skip
    return pruned


class RetentionThread(StoreThread):
    """Runs :func:`prune_old` in its own thread with its own store: ``first_s`` after
    :meth:`start`, then every ``every_s`` (both in the clock's seconds). ``on_pruned`` is
    called with each count, 0 included."""

    def __init__(
        self,
        store_path: str | Path,
        device: str,
        clock: Clock,
        keep_days: int,
        *,
        first_s: float = FIRST_PRUNE_S,
        every_s: float = PRUNE_EVERY_S,
        on_pruned: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__("retention", store_path, device, clock)
        self.keep_days = keep_days
        self.first_s, self.every_s = first_s, every_s
        self.on_pruned = on_pruned

    def _run(self) -> None:
        wait = self.first_s
        while not self._stop.wait(wait / rate_of(self.clock)):
            wait = self.every_s
            try:
                with EventStore(self.store_path, self.device) as store:
                    pruned = prune_old(store, self.clock, self.keep_days)
            except Exception:  # the next day tries again; the device runs on meanwhile
                log.exception("%s: deleting old acknowledged events failed", self.device)
                continue
            if self.on_pruned is not None:
                self.on_pruned(pruned)
