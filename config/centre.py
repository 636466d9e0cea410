"""The central office's configuration: the bank's branches (region, time zone, opening hours,
holidays, the branch's own configuration file for its roster) and the KPIs' targets and levels.

    [kpi]
    satisfied_levels = [5, 4]        # count towards 满意率 (default: the top two of five)
    unsatisfied_levels = [1, 2]      # 差评: count towards 差评率 and open a follow-up item
    neutral_levels = []              # given, but left out of both rates' denominators
    min_sample = 30                  # rankings: fewer ratings than this are "not ranked"

    [kpi.targets]
    satisfaction = 0.99              # 满意率 at least
    evaluation = 0.85                # 评价率 at least
    uptime = 1.0                     # 开机率 at least

    [followup]                       # 差评回访: each bad rating opens a follow-up item
    working_days = 15                # due within this many working days (好差评: 15)
    holidays = [2027-01-01]          # days off for the whole bank the holiday calendar lacks
    workdays = []                    # working weekends (调休) for the whole bank it lacks

    [[branches]]
    id = "chengguan"
    name = "城关支行"
    region = "浙江省/杭州市"
    config = "branches/chengguan.toml"   # the branch's own file (time zone, hours, roster)
    holidays = [2026-10-01, 2026-10-02]  # closed although the weekday has hours
    workdays = [2026-10-10]              # open on a closed weekday (调休), with Monday's hours

Working days are China's (Monday to Friday, less the public holidays, plus the adjusted working
weekends, 调休, from the ``chinese-calendar`` package), then ``[followup]``'s days, then the
branch's own ``holidays`` and ``workdays`` (:mod:`central.workdays`).

Settings are declared once on the model fields (:mod:`config.declare`), like the branch's; every
problem is reported at once, each as ``file: key: what is wrong``. A branch's ``config`` is read
by :func:`config.loader.load_config` (over the shipped defaults), relative to the centre's file.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from config.business import WEEKDAYS, OpeningSpan, StaffMember
from config.checker import Checker, describe
from config.declare import Section, Table, Tables, option, read_table, setting
from config.errors import ConfigError, Problem
from config.kinds import INVALID, Integer, Kind, ListOf, Number, String
from config.layers import KeyPath, Layers
from config.values import IDENTIFIER, TIME_ZONE

DEFAULT_TIME_ZONE = "Asia/Shanghai"


class Day(Kind):
    """A TOML local date (``2026-10-01``, no quotes)."""

    type_name = "date"

    def read(self, c: Checker, value: Any, path: KeyPath) -> Any:
        if isinstance(value, date) and not hasattr(value, "hour"):
            return value
        c.bad(path, f"expected a date like 2026-10-01 (no quotes), got {describe(value)}")
        return INVALID

    def to_file(self, value: Any) -> Any:
        return value


LEVEL = Integer(0, 10)


def _region_problem(text: str) -> str | None:
    if text.startswith("/") or text.endswith("/") or "//" in text:
        return f'expected names separated by single "/", like "浙江省/杭州市", got "{text}"'
    return None


REGION = String(check=_region_problem, empty="keep", rule='names separated by "/"')


@dataclass(frozen=True)
class Targets:
    """What each KPI must reach (a fraction 0..1); ``None``: no target."""

    satisfaction: float | None = option(Number(0, 1), 0.99, help="满意率 at least")
    evaluation: float | None = option(Number(0, 1), 0.85, help="评价率 at least")
    uptime: float | None = option(Number(0, 1), 1.0, help="开机率 at least")
    bad_rating: float | None = option(Number(0, 1), None, help="差评率 at most")
    wait_within_limit: float | None = option(
        Number(0, 1), None, help="share of customers called within the waiting limit, at least"
    )


def _levels_apart(scope) -> None:
    named = {}
    for key in ("satisfied_levels", "unsatisfied_levels", "neutral_levels"):
        value = scope.values.get(key)
        if value is INVALID or value is None:
            return
        named[key] = set(value)
    for key, other in (
        ("unsatisfied_levels", "satisfied_levels"),
        ("neutral_levels", "satisfied_levels"),
        ("neutral_levels", "unsatisfied_levels"),
    ):
        both = sorted(named[key] & named[other])
        if both:
            scope.bad(key, f"levels {both} are also in {other}")


@dataclass(frozen=True)
class KpiSettings:
    """How the KPIs count ratings, and their targets."""

    RULES = (_levels_apart,)

    satisfied_levels: tuple[int, ...] = option(
        ListOf(LEVEL, nonempty=True, unique="level"),
        [5, 4],
        help="rating levels that count as satisfied (满意率); default the top two of five",
    )
    unsatisfied_levels: tuple[int, ...] = option(
        ListOf(LEVEL, nonempty=True, unique="level"),
        [1, 2],
        help="rating levels that count as unsatisfied (差评); default the bottom two of five",
    )
    neutral_levels: tuple[int, ...] = option(
        ListOf(LEVEL, unique="level"),
        [],
        help="rating levels given but left out of 满意率's and 差评率's denominators (e.g. "
        "不了解 on a four-level scale)",
    )
    min_sample: int = option(
        Integer(1, 100000), 30, help='rankings: fewer ratings than this are "not ranked"'
    )
    targets: Targets = option(Section(Targets), help="the KPIs' targets")


def _days_apart(scope) -> None:
    off, on = scope.values.get("holidays"), scope.values.get("workdays")
    if off is INVALID or on is INVALID or off is None or on is None:
        return
    both = sorted(set(off) & set(on))
    if both:
        scope.bad("workdays", f"{', '.join(map(str, both))} also in holidays")


@dataclass(frozen=True)
class FollowupSettings:
    """Follow-up of bad ratings (差评回访): when an item is due, and the bank's own days."""

    RULES = (_days_apart,)

    working_days: int = option(
        Integer(1, 365),
        15,
        help="a bad rating's follow-up is due within this many working days after the day of "
        "the rating (好差评: 15)",
    )
    holidays: tuple[date, ...] = option(
        ListOf(Day(), unique="date"),
        [],
        help="days off for the whole bank that the holiday calendar lacks (a closure, a year "
        "not yet in chinese-calendar: a year named here or in workdays counts as known); a "
        "branch's own holidays and workdays come after",
    )
    workdays: tuple[date, ...] = option(
        ListOf(Day(), unique="date"),
        [],
        help="working days on a weekend or holiday for the whole bank (调休) that the holiday "
        "calendar lacks",
    )


@dataclass(frozen=True)
class BranchInfo:
    """One branch of the bank as the centre sees it."""

    id: str = setting(IDENTIFIER, unique="branch id", help="the branch id its devices use")
    name: str = setting(String(), help="the branch's name")
    region: str = option(REGION, "", help='where it is, e.g. "浙江省/杭州市" ("": the bank itself)')
    config: str | None = option(
        String(),
        None,
        help="the branch's configuration file (time zone, opening hours, roster), relative to "
        "this file; absent: the shipped defaults' hours and Asia/Shanghai",
    )
    time_zone: str | None = option(
        TIME_ZONE, None, help="overrides the time zone of the branch's configuration"
    )
    holidays: tuple[date, ...] = option(
        ListOf(Day(), unique="date"),
        [],
        help="closed days although their weekday has hours (days off for follow-up deadlines too)",
    )
    workdays: tuple[date, ...] = option(
        ListOf(Day(), unique="date"),
        [],
        help="open days although their weekday is closed (调休), with Monday's hours (working "
        "days for follow-up deadlines too)",
    )


@dataclass(frozen=True)
class Branch:
    """A branch with what its own configuration says: time zone, hours and roster."""

    info: BranchInfo
    time_zone: str
    hours: dict[str, tuple[OpeningSpan, ...]]
    roster: tuple[StaffMember, ...] = ()

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def regions(self) -> tuple[str, ...]:
        """``浙江省/杭州市`` -> ``("浙江省", "浙江省/杭州市")``: every level it belongs to."""
        parts = [p for p in self.info.region.split("/") if p]
        return tuple("/".join(parts[: i + 1]) for i in range(len(parts)))

    def spans(self, day: date) -> tuple[OpeningSpan, ...]:
        """The opening hours of ``day`` (holidays closed, workdays with Monday's hours)."""
        if day in self.info.holidays:
            return ()
        own = self.hours.get(WEEKDAYS[day.weekday()], ())
        if not own and day in self.info.workdays:
            return self.hours.get("mon", ())
        return own


@dataclass(frozen=True)
class CentreConfig:
    kpi: KpiSettings = option(Section(KpiSettings), help="how the KPIs count, and their targets")
    branches: tuple[BranchInfo, ...] = option(Tables(BranchInfo), [], help="the bank's branches")
    followup: FollowupSettings = option(
        Section(FollowupSettings), help="follow-up of bad ratings: deadlines in working days"
    )
    sources: tuple[str, ...] = ()
    resolved: tuple[Branch, ...] = field(default=(), repr=False)

    def branch(self, branch_id: str) -> Branch | None:
        """The configured branch, or None for a branch the configuration does not name."""
        return self._by_id.get(branch_id)

    @functools.cached_property
    def _by_id(self) -> dict[str, Branch]:
        """The configured branches by id (the KPIs ask for one per pad and month)."""
        return {b.id: b for b in self.resolved}

    def branch_or_default(self, branch_id: str) -> Branch:
        """The configured branch, or one with the defaults (an unknown branch is kept and
        counted, never dropped: its events still reach the KPIs)."""
        found = self.branch(branch_id)
        if found is not None:
            return found
        info = BranchInfo(id=branch_id, name=branch_id)
        return Branch(info, DEFAULT_TIME_ZONE, _shipped_hours())


CENTRE = Table.of(CentreConfig)


def load_centre_config(path: str | Path | None) -> CentreConfig:
    """The centre's configuration from ``path`` (None: no branches, default KPI settings), with
    each branch's own configuration file read; raise :class:`ConfigError` with every problem."""
    from config.loader import load_config

    if path is None:
        return CentreConfig()
    path = Path(path)
    try:
        document = tomllib.loads(path.read_bytes().decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError([Problem(str(path), "", "configuration file not found")]) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError([Problem(str(path), "", f"cannot read the file: {exc}")]) from None
    layers = Layers()
    layers.merge(document, str(path))
    c = Checker(layers)
    read = read_table(c, CENTRE, document, ())
    if c.problems:
        raise ConfigError(c.problems)
    config: CentreConfig = read.model
    problems: list[Problem] = []
    resolved = []
    for i, info in enumerate(config.branches):
        zone, hours = DEFAULT_TIME_ZONE, None
        roster: tuple[StaffMember, ...] = ()
        if info.config is not None:
            try:
                own = load_config(path.parent / info.config)
            except ConfigError as exc:
                problems += [
                    Problem(str(path), f"branches[{i}].config", f"the branch's file: {p}")
                    for p in exc.problems
                ]
                continue
            zone, hours, roster = own.device.timezone, own.hours, own.roster
        resolved.append(Branch(info, info.time_zone or zone, hours or _shipped_hours(), roster))
    if problems:
        raise ConfigError(problems)
    return dataclasses.replace(config, sources=(str(path),), resolved=tuple(resolved))


@functools.cache
def _shipped_hours() -> dict[str, tuple[OpeningSpan, ...]]:
    from config.loader import load_config

    return load_config().hours
