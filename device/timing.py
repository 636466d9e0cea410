"""Timing of one transaction against its business type's limits.

- waiting time: from the ticket entering the queue (issue, or a transfer) to its **last** call;
- walk-up time: from the last call to the start of service;
- service time: from the start of service to its finish;
- rating delay: from the rating prompt to the customer's press.
"""

from __future__ import annotations

from dataclasses import dataclass

from device.clock import Duration, Instant, between


@dataclass(frozen=True)
class Limits:
    """A business type's limits in seconds (internal: never shown to the customer)."""

    wait_s: float
    service_s: float


@dataclass(frozen=True)
class Timeline:
    """The instants of one transaction; any may be missing (a ticketless service has no call)."""

    queued: Instant | None = None
    called: Instant | None = None
    started: Instant | None = None
    finished: Instant | None = None
    rated: Instant | None = None


def _span(a: Instant | None, b: Instant | None) -> Duration | None:
    return None if a is None or b is None else between(a, b)


@dataclass(frozen=True)
class TimingReport:
    waiting: Duration | None
    walk_up: Duration | None
    service: Duration | None
    rating_delay: Duration | None
    wait_over_limit: bool
    service_over_limit: bool

    def to_dict(self) -> dict:
        def secs(d: Duration | None) -> float | None:
            return None if d is None else round(d.seconds, 3)

        spans = (self.waiting, self.walk_up, self.service, self.rating_delay)
        return {
            "waiting_s": secs(self.waiting),
            "walk_up_s": secs(self.walk_up),
            "service_s": secs(self.service),
            "rating_delay_s": secs(self.rating_delay),
            "wait_over_limit": self.wait_over_limit,
            "service_over_limit": self.service_over_limit,
            "exact": all(d is None or d.exact for d in spans),
        }


def measure(timeline: Timeline, limits: Limits) -> TimingReport:
    """Durations of ``timeline`` and whether they exceeded ``limits``."""
    waiting = _span(timeline.queued, timeline.called)
    service = _span(timeline.started, timeline.finished)
    return TimingReport(
        waiting=waiting,
        walk_up=_span(timeline.called, timeline.started),
        service=service,
        rating_delay=_span(timeline.finished, timeline.rated),
        wait_over_limit=waiting is not None and waiting.seconds > limits.wait_s,
        service_over_limit=service is not None and service.seconds > limits.service_s,
    )
