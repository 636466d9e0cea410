"""Every table the dashboard shows, exports and answers in its API, built once here from the
centre's analytics (``central.kpi``, ``ranking``, ``timing``, ``followup``, ``alerts``,
``search``) within the user's scope: a page, its CSV/XLSX export and its ``/api/v1`` answer are
the same rows. No figure is computed here; columns only say how to show and link them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from central import followup
from central.heatmap import heatmap
from central.kpi import LEVELS, kpis
from central.output import alert_fields
from central.ranking import RANKED_BY, ranking
from central.rollups import WAIT_BANDS
from central.search import search_transactions
from central.timing import TIMING_LEVELS, timing
from central.web.context import BadRequest, Ctx

Link = Callable[[dict[str, Any]], str | None]

ALERT_KINDS = {
    "bad_rating": "差评",
    "bad_burst": "差评集中",
    "wait_over_limit": "等候超时",
    "idle_with_queue": "闲置叫号",
    "chain_break": "数据链断裂",
    "device_offline": "设备离线",
    "below_target": "低于目标",
    "opened_late": "迟开窗",
    "closed_early": "早关窗",
}
OUTCOMES = {
    "served": "办结",
    "no_show": "过号",
    "transferred": "转移",
    "expired": "未叫号",
    "cancelled": "取消",
}
RATING_STATUSES = {"rated": "已评价", "unrated": "未评价", "not_invited": "未邀请"}
STATUS_NAMES = {"online": "在线", "offline": "离线"}
TIMING_VALUES = {"within limit": "未超时", "over limit": "超时", "no limit": "无时限"}


@dataclass(frozen=True)
class Column:
    """How one field is shown: ``kind`` text, int, pct (with the row's interval when
    ``interval`` names it, and ✗ when ``meets`` says the target is missed), secs, bool."""

    key: str
    title: str
    kind: str = "text"
    link: Link | None = None
    interval: str | None = None
    meets: str | None = None


@dataclass
class Table:
    """Rows of one analytics answer; ``export``: its name under ``/export`` and ``/api/v1``
    with the query that gives the same rows."""

    name: str
    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    export: str
    query: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    sheet: str = ""
    """Its sheet's name in a workbook of several tables (the monthly report)."""


def _tx_link(ctx: Ctx, **fixed: Any) -> Link:
    """A link to the transactions behind a row (its keys narrow the search)."""

    def link(row: dict[str, Any]) -> str | None:
        keys: dict[str, Any] = {
            k: row[k]
            for k in ("region", "branch", "counter", "teller", "business_type")
            if k in row
        }
        keys.update(fixed)
        return "/transactions?" + ctx.filters.query(**keys)

    return link


def _group_link(ctx: Ctx) -> Link:
    def link(row: dict[str, Any]) -> str | None:
        q = ctx.filters.query(branch=None, region=None)
        if "teller" in row:
            return f"/branch/{quote(row['branch'])}/teller/{quote(str(row['teller']))}?{q}"
        if "counter" in row:
            return f"/branch/{quote(row['branch'])}/counter/{row['counter']}?{q}"
        if "branch" in row:
            return f"/branch/{quote(row['branch'])}?{q}"
        if "region" in row:
            return "/branches?" + ctx.filters.query(region=row["region"], branch=None)
        return None

    return link


def group_label(row: dict[str, Any]) -> str:
    parts = []
    if "region" in row:
        parts.append(row["region"] or "(未分区)")
    if "branch" in row:
        parts.append(row.get("branch_name") or row["branch"])
    if "counter" in row:
        parts.append(f"{row['counter']}号窗口")
    if "teller" in row:
        parts.append(f"{row['teller']} {row.get('teller_name') or ''}".strip())
    if "business_type" in row and len(parts) == 0:
        parts.append(row["business_type"])
    return " ".join(parts) or "全行"


def kpi_columns(ctx: Ctx) -> list[Column]:
    finished = _tx_link(ctx, outcome="served")  # 办结: served to the end (KPI definitions)
    rated = _tx_link(ctx, outcome="served", rating_status="rated")
    return [
        Column("group", "对象", link=_group_link(ctx)),
        Column("finished", "办结", "int", link=finished),
        Column("rated", "已评价", "int", link=rated),
        Column("evaluation_rate", "评价率", "pct", interval="evaluation", meets="evaluation"),
        Column("ratings", "评价数 n", "int", link=_tx_link(ctx, scored=1)),
        Column("satisfaction_rate", "满意率", "pct", interval="satisfaction", meets="satisfaction"),
        Column("satisfaction_rate_adjusted", "调整后满意率", "pct", meets="satisfaction_adjusted"),
        Column("bad_rating_rate", "差评率", "pct", interval="bad_rating", meets="bad_rating"),
        Column("uptime_rate", "开机率", "pct", meets="uptime"),
        Column("wait_mean_s", "平均等候", "secs"),
        Column("wait_p90_s", "等候P90", "secs"),
        Column("over_limit", "超时", "int", link=_tx_link(ctx, over=1)),
        Column("no_shows", "过号", "int", link=_tx_link(ctx, outcome="no_show")),
    ]


def kpi_table(ctx: Ctx, by: str, *, branch: str | None = None, title: str = "") -> Table:
    """KPI rows of level ``by`` over the filters' period, within the scope."""
    if by not in LEVELS:
        raise BadRequest(f"by must be one of {', '.join(LEVELS)}")
    f = ctx.filters
    rows = kpis(
        ctx.store.query, ctx.centre, f.start, f.end, by, branches=ctx.branches(branch),
        now=ctx.now(), business_type=f.business_type,
    )  # fmt: skip
    if by == "region" and not ctx.scope.everything:
        rows = [r for r in rows if ctx.scope.allows_region(r["region"])]
    for row in rows:
        row["group"] = group_label(row)
    query = {"by": by, **({"branch": branch} if branch else {})}
    return Table(f"kpi-{by}", title or f"KPI ({by})", kpi_columns(ctx), rows, "kpi", query)


def ranking_table(ctx: Ctx, by: str, *, full: bool = True) -> Table:
    """The ranking of ``by`` within the scope (``full=False``: only what ranks, see
    ``central.ranking``)."""
    if by not in RANKED_BY:
        raise BadRequest(f"by must be one of {', '.join(RANKED_BY)}")
    f, least = ctx.filters, ctx.centre.kpi.min_sample
    rows = ranking(
        ctx.store.query, ctx.centre, f.start, f.end, by, branches=ctx.branches(),
        business_type=f.business_type, full=full,
    )  # fmt: skip
    for row in rows:
        row["group"] = group_label(row)
        row["standing"] = "" if row["rank"] is not None else f"样本不足 (n < {least})"
    columns = [
        Column("rank", "名次", "int"),
        Column("group", "对象", link=_group_link(ctx)),
        Column("ratings", "评价数 n", "int", link=_tx_link(ctx, scored=1)),
        Column("satisfaction_rate", "满意率", "pct", interval="satisfaction", meets="satisfaction"),
        Column("standing", "未排名原因"),
    ]
    note = f"按满意率95%置信区间下限排名；评价数少于 {least} 不参与排名。"
    return Table(f"ranking-{by}", "排名", columns, rows, "ranking", {"by": by}, note)


def timing_table(ctx: Ctx, by: str) -> Table:
    if by not in TIMING_LEVELS:
        raise BadRequest(f"by must be one of {', '.join(TIMING_LEVELS)}")
    f = ctx.filters
    rows = timing(
        ctx.store.query, ctx.centre, f.start, f.end, by, branches=ctx.branches(),
        business_type=f.business_type,
    )  # fmt: skip
    for row in rows:
        row["dimension_name"] = "等候时长" if row["dimension"] == "wait" else "办理时长"
        row["value_name"] = _timing_value(row["value"])
    columns = [
        Column(by, "对象"),
        Column("dimension_name", "维度"),
        Column("value_name", "区间"),
        Column("ratings", "评价数 n", "int", link=_timing_link(ctx, by)),
        Column("satisfaction_rate", "满意率", "pct", interval="satisfaction"),
        Column("unsatisfied", "差评", "int"),
    ]
    if by == "bank":
        columns = columns[1:]
    return Table(f"timing-{by}", "满意率与等候/办理时长", columns, rows, "timing", {"by": by})


def _timing_link(ctx: Ctx, by: str) -> Link:
    """The ratings behind a row of 满意率 against timing (its band, or its service within or
    over its limit): those 满意率 counts (``scored``: not of a neutral level)."""

    def link(row: dict[str, Any]) -> str | None:
        cell = {"wait_band" if row["dimension"] == "wait" else "service": row["code"]}
        group = {by: row[by]} if by != "bank" else {}
        return "/transactions?" + ctx.filters.query(scored=1, **group, **cell)

    return link


def heat_link(ctx: Ctx, figure: str) -> Link:
    """The transactions behind a cell of the heat map (weekday x hour of arrival): the
    customers called (``called``) or the ratings given (``ratings``)."""
    fixed = {"called": 1} if figure == "called" else {"scored": 1}

    def link(row: dict[str, Any]) -> str | None:
        return "/transactions?" + ctx.filters.query(
            weekday=row["weekday"], hour=row["hour"], **fixed
        )

    return link


def _timing_value(value: str) -> str:
    """``central.timing``'s band or service names in Chinese."""
    if value in TIMING_VALUES:
        return TIMING_VALUES[value]
    if value.startswith("over "):
        return f"{value.removeprefix('over ').removesuffix(' min')} 分钟以上"
    return value.replace(" min", " 分钟")


def alerts_table(ctx: Ctx, *, open_only: bool = False) -> Table:
    branch = ctx.filters.branch
    allowed = ctx.branches()
    rows = [
        alert_fields(a)
        for a in ctx.store.alerts(
            branch=branch, branches=None if not allowed else list(allowed), open_only=open_only,
            limit=500,
        )
    ]  # fmt: skip
    for row in rows:
        row["evidence"] = len(row["evidence"])
        row["branch_name"] = ctx.branch_name(row["branch"])
        row["kind_name"] = ALERT_KINDS.get(row["kind"], row["kind"])
        row["when"] = row["at"][:16].replace("T", " ")
    within = ctx.filters.query(branch=None, region=None)  # the branch's page, same period
    columns = [
        Column("id", "编号", "int"),
        Column("branch_name", "网点", link=lambda r: f"/branch/{quote(r['branch'])}?{within}"),
        Column("kind_name", "类型"),
        Column("when", "时间"),
        Column("message", "内容"),
        Column("acked_by", "确认人"),
        Column("acked_at", "确认时间"),
    ]
    return Table("alerts", "告警", columns, rows, "alerts", {"open": "1"} if open_only else {})


def followup_table(ctx: Ctx, which: str = "all") -> Table:
    if which not in followup.WHICH:
        raise BadRequest(f"which must be one of {', '.join(followup.WHICH)}")
    rows = followup.items(
        ctx.store.query, ctx.centre, ctx.now(), which=which, branches=ctx.branches()
    )
    f = ctx.filters
    rows = [r for r in rows if f.start.isoformat() <= r["day"] <= f.end.isoformat()]
    for row in rows:
        row["state"] = (
            ("逾期" if row["overdue"] else "处理中")
            if row["status"] == "open"
            else ("逾期办结" if row["late"] else "已办结")
        )
        row["where"] = f"{row['counter']}号窗口 {row['teller']} {row['teller_name']}".strip()
    columns = [
        Column("id", "编号", "int", link=lambda r: f"/followup/{r['id']}?{f.query()}"),
        Column("branch", "网点"),
        Column("day", "日期"),
        Column("where", "窗口/柜员"),
        Column("rating", "评价", "int"),
        Column("deadline", "期限"),
        Column("working_days_left", "剩余工作日", "int"),
        Column("owner", "负责人"),
        Column("state", "状态"),
        Column("disputed", "申诉", "bool"),
    ]
    return Table("followup", "差评回访", columns, rows, "followup", {"which": which})


def _int(ctx: Ctx, key: str, lo: int | None = None, hi: int | None = None) -> int | None:
    text = ctx.params.get(key, "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        raise BadRequest(f"{key}: expected a whole number, got {text!r}") from None
    if lo is not None and hi is not None and not lo <= value <= hi:
        raise BadRequest(f"{key}: expected {lo} to {hi}, got {value}")
    return value


def transactions_table(ctx: Ctx, *, branch: str | None = None, **fixed: Any) -> Table:
    """The transactions of the filters' period and the URL's criteria (counter, teller,
    ticket, rating), or of ``fixed`` ones."""
    f = ctx.filters
    criteria: dict[str, Any] = {
        "counter": _int(ctx, "counter"),
        "teller": ctx.params.get("teller") or None,
        "ticket": ctx.params.get("ticket") or None,
        "rating": _int(ctx, "rating"),
        "business_type": f.business_type,
        "outcome": ctx.params.get("outcome") or None,  # in SQL, before the limit
        "rating_status": ctx.params.get("rating_status") or None,
        "called": ctx.params.get("called") == "1",
        "limited": ctx.params.get("limited") == "1",
        "scored": ctx.params.get("scored") == "1",
        "weekday": _int(ctx, "weekday", 0, 6),
        "hour": _int(ctx, "hour", 0, 23),
        "wait_band": _int(ctx, "wait_band", 0, len(WAIT_BANDS) - 1),
        "service": _int(ctx, "service", -1, 1),
        "over": ctx.params.get("over") == "1",
    }
    criteria.update(fixed)
    rows, more = search_transactions(
        ctx.store.query, f.start, f.end, branches=ctx.branches(branch),
        neutral=ctx.centre.kpi.neutral_levels, **criteria,
    )  # fmt: skip
    for row in rows:
        row["outcome_name"] = OUTCOMES.get(row["outcome"], row["outcome"])
        row["rating_status_name"] = RATING_STATUSES.get(row["rating_status"], row["rating_status"])
    columns = [
        Column("business_day", "日期"),
        Column("closed_at", "时间", "time"),
        Column("branch", "网点"),
        Column("counter", "窗口", "int"),
        Column("teller", "柜员"),
        Column("teller_name", "姓名"),
        Column("ticket", "票号"),
        Column("business_type", "业务"),
        Column("outcome_name", "结果"),
        Column("total_waiting_s", "等候", "secs"),
        Column("service_s", "办理", "secs"),
        Column("rating", "评价", "int"),
        Column("rating_status_name", "评价状态"),
    ]
    # 0 is a criterion (Monday, midnight, within the limit), False and None are none
    query = {
        k: 1 if v is True else v for k, v in criteria.items() if v is not None and v is not False
    }
    note = "只显示前 500 条；请缩小条件。" if more else ""
    return Table("transactions", "交易", columns, rows, "transactions", query, note)


def devices_table(ctx: Ctx, *, uptime: bool = True) -> Table:
    """The devices of the scope: status, last seen, progress, and a pad's 开机率 over the
    period (its counter's, from ``central.kpi``)."""
    chosen = ctx.branches()  # the scope, narrowed by the filters' branch or region
    allowed = set(chosen) if chosen else set(ctx.visible_branches())
    rates: dict[str, float | None] = {}
    if uptime:
        f = ctx.filters
        counters = kpis(
            ctx.store.query, ctx.centre, f.start, f.end, "counter", branches=ctx.branches(),
            now=ctx.now(),
        )  # fmt: skip
        of = {(r["branch"], r["counter"]): r["uptime_rate"] for r in counters}
        for device, branch, counter in ctx.store.query(
            "SELECT device_id, branch, counter FROM counter_devices"
        ):
            rates[device] = of.get((branch, int(counter)))
    rows = []
    for d in ctx.store.devices():
        if d.branch not in allowed or (ctx.filters.branch and d.branch != ctx.filters.branch):
            continue
        rows.append(
            {
                "device_id": d.device_id,
                "branch": d.branch,
                "branch_name": ctx.branch_name(d.branch),
                "status": d.status or "-",
                "status_name": STATUS_NAMES.get(d.status or "", "未知"),
                "status_at": d.status_at,
                "last_seen": d.last_seen,
                "uptime_rate": rates.get(d.device_id),
                "events": d.events,
                "missing": d.max_seq - d.contiguous_seq,
                "conflicts": d.conflicts,
                "stores": d.stores,
            }
        )
    columns = [
        Column("device_id", "设备"),
        Column("branch_name", "网点"),
        Column("status_name", "状态"),
        Column("status_at", "状态时间", "time"),
        Column("last_seen", "最后上报", "time"),
        Column("uptime_rate", "开机率", "pct"),
        Column("events", "事件数", "int"),
        Column("missing", "缺失序号", "int"),
        Column("conflicts", "冲突", "int"),
    ]
    return Table("devices", "设备", columns, rows, "devices")


def heatmap_table(ctx: Ctx) -> Table:
    """Waits and 满意率 by weekday x hour of arrival (``central.heatmap``)."""
    f = ctx.filters
    rows = heatmap(
        ctx.store.query, ctx.centre, f.start, f.end, branches=ctx.branches(),
        business_type=f.business_type,
    )  # fmt: skip
    columns = [
        Column("weekday_name", "星期"),
        Column("hour", "时段", "int"),
        Column("called", "叫号客户", "int", link=heat_link(ctx, "called")),
        Column("wait_mean_s", "平均等候", "secs"),
        Column("ratings", "评价数 n", "int", link=heat_link(ctx, "ratings")),
        Column("satisfaction_rate", "满意率", "pct", interval="satisfaction"),
    ]
    return Table("heatmap", "时段 × 星期", columns, rows, "heatmap")


def _param(ctx: Ctx, key: str, default: str) -> str:
    return ctx.params.get(key) or default


BUILDERS: dict[str, Callable[[Ctx], Table]] = {
    "kpi": lambda ctx: kpi_table(ctx, _param(ctx, "by", "branch")),
    "ranking": lambda ctx: ranking_table(ctx, _param(ctx, "by", "teller")),
    "timing": lambda ctx: timing_table(ctx, _param(ctx, "by", "bank")),
    "alerts": lambda ctx: alerts_table(ctx, open_only=ctx.params.get("open") == "1"),
    "followup": lambda ctx: followup_table(ctx, _param(ctx, "which", "all")),
    "transactions": lambda ctx: transactions_table(ctx),
    "devices": devices_table,
    "heatmap": heatmap_table,
}
"""The tables by their export name: what ``/export/<name>.csv|xlsx`` and ``/api/v1/<name>``
build from the URL's query."""


def export_url(table: Table, ctx: Ctx, fmt: str) -> str:
    return f"/export/{table.export}.{fmt}?" + ctx.filters.query(**table.query)
