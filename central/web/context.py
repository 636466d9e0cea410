"""What every request works with: the app's settings, a central store per thread, the signed-in
user with their scope, the clock, and the filters read from the URL (period, branch, region,
business type), checked against the scope."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from central.accounts import Session
from central.store import CentralStore
from central.web.scope import Forbidden, Scope
from config.centre import DEFAULT_TIME_ZONE, CentreConfig
from domain.clock import wall_now_from

IDLE = timedelta(minutes=30)
MAX_DAYS = 366 * 2
"""The longest period a page is asked for."""


class BadRequest(Exception):
    """A filter or form value that cannot be used (HTTP 400); the message says which."""


_CENTRE_NOW = wall_now_from(os.environ)  # the machine's time, or a simulation's


def _utc_now() -> datetime:
    return _CENTRE_NOW()


@dataclass
class Settings:
    """The dashboard's settings; ``clock`` gives the time (tests fix it)."""

    db: str
    centre: CentreConfig = field(default_factory=CentreConfig)
    clock: Callable[[], datetime] = _utc_now
    idle: timedelta = IDLE
    secure_cookies: bool = False
    poll: timedelta = timedelta(seconds=15)
    """How often an open page asks for the alerts and the devices' status (``/api/v1/live``)."""
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def store(self) -> CentralStore:
        """This thread's connection to the central store (a store is not shared by threads)."""
        found = getattr(self._local, "store", None)
        if found is None:
            found = self._local.store = CentralStore(self.db, centre=self.centre)
        return found

    def today(self) -> date:
        """Today in the bank's time zone (the default periods end today)."""
        return self.clock().astimezone(ZoneInfo(DEFAULT_TIME_ZONE)).date()


@dataclass(frozen=True)
class Filters:
    start: date
    end: date
    branch: str | None
    region: str | None
    business_type: str | None

    def query(self, **more: object) -> str:
        """These filters (and ``more``) as a URL query string."""
        values: dict[str, object] = {"from": self.start, "to": self.end}
        for key in ("branch", "region", "business_type"):
            if getattr(self, key):
                values[key] = getattr(self, key)
        values.update(more)
        return urlencode({k: v for k, v in values.items() if v is not None and v != ""})


@dataclass
class Ctx:
    """One request's user, scope, store, clock and filters."""

    settings: Settings
    session: Session
    params: Mapping[str, str]
    filters: Filters = field(init=False)

    def __post_init__(self) -> None:
        self.filters = self._filters()

    @property
    def scope(self) -> Scope:
        return Scope.of(self.session.user)

    @property
    def user(self) -> str:
        return self.session.user.name

    @property
    def centre(self) -> CentreConfig:
        return self.settings.centre

    @property
    def store(self) -> CentralStore:
        return self.settings.store()

    def now(self) -> datetime:
        return self.settings.clock()

    def _date(self, key: str, default: date) -> date:
        text = self.params.get(key, "").strip()
        if not text:
            return default
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise BadRequest(f"{key}: expected a date like 2026-11-25, got {text!r}") from None

    def _filters(self) -> Filters:
        today = self.settings.today()
        end = self._date("to", today)
        start = self._date("from", end.replace(day=1))
        if start > end:
            raise BadRequest(f"from {start} is after to {end}")
        if (end - start).days > MAX_DAYS:
            raise BadRequest(f"a period of at most {MAX_DAYS} days")
        branch = self.params.get("branch", "").strip() or None
        region = self.params.get("region", "").strip() or None
        if branch is not None:
            self.scope.check(branch, self.centre)
        if region is not None and not self.scope.allows_region(region):
            raise Forbidden(f"region {region} is outside your scope")
        business_type = self.params.get("business_type", "").strip() or None
        return Filters(start, end, branch, region, business_type)

    def known_branches(self) -> list[str]:
        """The configured branches and those the database has seen."""
        seen = {r[0] for r in self.store.query("SELECT DISTINCT branch FROM devices")}
        return sorted(seen | {b.id for b in self.centre.resolved})

    def visible_branches(self) -> list[str]:
        return [b for b in self.known_branches() if self.scope.allows(b, self.centre)]

    def branches(self, branch: str | None = None) -> tuple[str, ...]:
        """The branch filter of the analytics: ``branch`` (checked against the scope), else the
        filters' branch or region, within the scope (``()``: every branch)."""
        if branch is not None:
            self.scope.check(branch, self.centre)
            return (branch,)
        if self.filters.branch:
            return (self.filters.branch,)
        mine = self.scope.branches(self.centre, self.known_branches())
        if self.filters.region:
            region = self.filters.region
            pool = mine or tuple(self.known_branches())
            inside = tuple(b for b in pool if region in self.centre.branch_or_default(b).regions)
            return inside or ("\x00",)
        return mine

    def check_branch(self, branch: str) -> None:
        self.scope.check(branch, self.centre)

    def require_write(self) -> None:
        if not self.scope.can_write:
            raise Forbidden("a viewer cannot change anything")

    def require_export(self) -> None:
        if not self.scope.can_export:
            raise Forbidden("a viewer cannot export")

    def branch_name(self, branch: str) -> str:
        found = self.centre.branch(branch)
        return found.info.name if found else branch
