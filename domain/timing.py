"""Timing of one transaction (one leg of a ticket's visit) against its business type's limits.

- waiting time: from the ticket entering the queue for this leg (issue, or a transfer) to its
  **first** call (a recall does not make the customer wait longer: they were called);
- total waiting time: from the ticket's issue to this leg's first call, across transfers: what
  the customer waited in the branch; the waiting limit is held against this one;
- walk-up time: from the first call to the start of service;
- service time: from the start of service to its finish, or to the transfer that ended it;
- rating delay: from the rating prompt to the customer's press.

Each duration says whether it is exact (one boot's monotonic clock) or spans a power cut
(:func:`domain.clock.between`).
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.clock import BootEnds, Duration, Instant


@dataclass(frozen=True)
class Limits:
    """A business type's limits in seconds (internal: never shown to the customer)."""

    wait_s: float
    service_s: float


@dataclass(frozen=True)
class Timeline:
    """The instants of one transaction; any may be missing (a ticketless service has no call).

    ``waited_before`` is the wait of the ticket's earlier legs (before a transfer), measured
    where the queue keeps its clock; ``ended`` is the finish, or the transfer of a called or
    served ticket."""

    queued: Instant | None = None
    called: Instant | None = None
    started: Instant | None = None
    ended: Instant | None = None
    rated: Instant | None = None
    waited_before: Duration | None = None


@dataclass(frozen=True)
class TimingReport:
    waiting: Duration | None
    total_waiting: Duration | None
    walk_up: Duration | None
    service: Duration | None
    rating_delay: Duration | None
    wait_over_limit: bool
    service_over_limit: bool

    def to_dict(self) -> dict:
        def secs(d: Duration | None) -> float | None:
            return None if d is None else round(d.seconds, 3)

        spans = (self.total_waiting, self.walk_up, self.service, self.rating_delay)
        return {
            "waiting_s": secs(self.waiting),
            "total_waiting_s": secs(self.total_waiting),
            "walk_up_s": secs(self.walk_up),
            "service_s": secs(self.service),
            "rating_delay_s": secs(self.rating_delay),
            "wait_over_limit": self.wait_over_limit,
            "service_over_limit": self.service_over_limit,
            "waiting_exact": self.total_waiting is None or self.total_waiting.exact,
            "service_exact": self.service is None or self.service.exact,
            "exact": all(d is None or d.exact for d in spans),
        }


def measure(timeline: Timeline, limits: Limits, boot_ends: BootEnds | None = None) -> TimingReport:
    """Durations of ``timeline`` and whether they exceeded ``limits``."""
    ends = boot_ends or BootEnds()

    def span(a: Instant | None, b: Instant | None) -> Duration | None:
        return None if a is None or b is None else ends.between(a, b)

    waiting = span(timeline.queued, timeline.called)
    total = waiting
    if waiting is not None and timeline.waited_before is not None:
        before = timeline.waited_before
        total = Duration(before.seconds + waiting.seconds, before.exact and waiting.exact)
    service = span(timeline.started, timeline.ended)
    return TimingReport(
        waiting=waiting,
        total_waiting=total,
        walk_up=span(timeline.called, timeline.started),
        service=service,
        rating_delay=span(timeline.ended, timeline.rated),
        wait_over_limit=total is not None and total.seconds > limits.wait_s,
        service_over_limit=service is not None and service.seconds > limits.service_s,
    )
