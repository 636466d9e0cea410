"""Expected waiting time for the kiosk and the board (客户等候时间预告), from recent services."""

from __future__ import annotations

from config.model import Config
from domain.events import TransactionClosed

SMOOTHING = 0.2  # weight of the newest service in the running average
PRIOR_SHARE = 0.5  # before any service is seen: half the business type's service limit


class WaitEstimator:
    """Running average service time per business type; expected wait = ahead × average ÷ counters.

    Feed it every ``transaction.closed`` payload with :meth:`observe`.
    """

    def __init__(self, config: Config) -> None:
        self._config = config
        self._average = {bt.code: bt.service_limit_s * PRIOR_SHARE for bt in config.business_types}
        self._counters = {
            bt.code: sum(bt.code in c.business_types for c in config.counters) or 1
            for bt in config.business_types
        }

    def observe(self, closed: TransactionClosed) -> None:
        service, code = closed.service_s, closed.business_type
        if closed.outcome == "served" and service is not None and code in self._average:
            old = self._average[code]
            self._average[code] = old + SMOOTHING * (float(service) - old)

    def average_service_s(self, business_type: str) -> float:
        return self._average[business_type]

    def expected_wait_min(self, business_type: str, ahead: int) -> int:
        """Whole minutes (at least 1 when anyone is ahead; 0 when nobody is)."""
        if ahead <= 0:
            return 0
        seconds = ahead * self._average[business_type] / self._counters[business_type]
        return max(1, round(seconds / 60))
