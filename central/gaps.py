"""Which missing seqs to ask a device for, and when: one ``resend`` request per gap, asked again
every ``interval_s`` while it stays open, never more often.

A gap is the range just above a store's contiguous mark when later events are already held.
After a long outage batches arrive out of order and that range moves with nearly every batch
(its start as the mark advances, its end as earlier batches land); asking on every move sent a
device 119 requests in 64 ms. So a store's open gap is asked for once, and then at most once per
``interval_s`` with the range as it is by then; a gap that closes and reopens within the
interval waits for it too. Pure: the clock is injected, nothing here publishes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

Key = tuple[str, str]  # (device, store)


@dataclass(frozen=True)
class ResendAsk:
    """Ask ``device`` (of ``branch``) to publish seqs ``first``..``last`` of ``store`` again."""

    branch: str
    device: str
    store: str
    first: int
    last: int


@dataclass
class _Open:
    branch: str
    asked_at: float
    gap: tuple[int, int] | None  # None: closed, kept until the interval has passed


class GapTracker:
    """Open gaps per (device, store), with the time each was last asked for."""

    def __init__(
        self,
        interval_s: float,
        max_events: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_s = interval_s
        self.max_events = max_events
        self.clock = clock
        self._gaps: dict[Key, _Open] = {}

    def update(
        self, branch: str, device: str, store: str, gap: tuple[int, int] | None
    ) -> ResendAsk | None:
        """A batch of ``device``/``store`` was stored, leaving ``gap`` open (or none): the ask
        to publish now, if the store was not asked within the interval."""
        key = (device, store)
        known = self._gaps.get(key)
        if gap is None:
            if known is not None:
                known.gap = None
            return None
        capped = (gap[0], min(gap[1], gap[0] + self.max_events - 1))
        if known is None:
            known = self._gaps[key] = _Open(branch, -math.inf, capped)
        known.branch, known.gap = branch, capped
        return self._ask_if_due(key, known, self.clock())

    def due(self) -> list[ResendAsk]:
        """Open gaps last asked for ``interval_s`` ago or more: ask again, with today's range."""
        now = self.clock()
        asks = []
        for key, known in list(self._gaps.items()):
            if known.gap is None:
                if now - known.asked_at >= self.interval_s:
                    del self._gaps[key]
                continue
            ask = self._ask_if_due(key, known, now)
            if ask is not None:
                asks.append(ask)
        return asks

    def open_gaps(self) -> dict[Key, tuple[int, int]]:
        return {key: known.gap for key, known in self._gaps.items() if known.gap is not None}

    def _ask_if_due(self, key: Key, known: _Open, now: float) -> ResendAsk | None:
        if known.gap is None or now - known.asked_at < self.interval_s:
            return None
        known.asked_at = now
        return ResendAsk(known.branch, key[0], key[1], *known.gap)
