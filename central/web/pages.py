"""The dashboard's pages: each a handler ``(ctx, request, form) -> Response`` that asks
``central/web/tables.py`` (hence the analytics) for its tables and renders them, or makes one
change through the centre's own functions (acknowledge an alert, a follow-up item's note,
owner, verdict or dispute)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from central import followup
from central.kpi import kpis
from central.web import tables
from central.web.context import BadRequest, Ctx
from central.web.render import render

TREND_DAYS = 62
"""The overview's daily trend covers at most the period's last so many days."""

NAV = (
    ("/", "概览"),
    ("/regions", "钻取"),
    ("/rankings", "排名"),
    ("/timing", "满意率与时长"),
    ("/heatmap", "热力图"),
    ("/alerts", "告警"),
    ("/followup", "差评回访"),
    ("/devices", "设备"),
    ("/transactions", "交易查询"),
    ("/report", "月报"),
)

CARDS = (
    ("满意率", "satisfaction_rate", "satisfaction", "satisfaction", "ratings"),
    ("评价率", "evaluation_rate", "evaluation", "evaluation", "finished"),
    ("开机率", "uptime_rate", None, "uptime", "business_minutes"),
    ("差评率", "bad_rating_rate", "bad_rating", "bad_rating", "ratings"),
    (
        "等候达标率",
        "wait_within_limit_rate",
        "wait_within_limit",
        "wait_within_limit",
        "wait_limited",
    ),
)
BEHIND: dict[str, dict[str, object]] = {
    "ratings": {"scored": 1},  # as 满意率 counts them: not the neutral levels
    "finished": {"outcome": "served"},
    "wait_limited": {"called": 1, "limited": 1},
}
"""The transactions behind a card's n (开机率's minutes have none)."""


def page(ctx: Ctx, request: Request, template: str, **values: Any) -> Response:
    context = {
        "ctx": ctx,
        "nav": NAV,
        "path": request.url.path,
        "branches": [(b, ctx.branch_name(b)) for b in ctx.visible_branches()],
        "export_url": lambda t, fmt: tables.export_url(t, ctx, fmt),
        **values,
    }
    return render(request, template, context)


def overview(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    f = ctx.filters
    total = tables.kpi_table(ctx, "bank", title=f"{ctx.scope.describe()} 合计")
    row = total.rows[0] if total.rows else {}
    targets = ctx.centre.kpi.targets
    cards = []
    for label, key, ci, target_key, n_key in CARDS:
        cards.append(
            {
                "label": label,
                "value": row.get(key),
                "ci": ci,
                "target": getattr(targets, target_key),
                "meets": row.get("meets", {}).get(target_key),
                "n": row.get(n_key),
                "n_key": n_key,
                "href": ("/transactions?" + f.query(**BEHIND[n_key]) if n_key in BEHIND else None),
            }
        )
    start = max(f.start, f.end - timedelta(days=TREND_DAYS - 1))
    daily = {
        r["day"]: r
        for r in kpis(
            ctx.store.query, ctx.centre, start, f.end, "day", branches=ctx.branches(),
            business_type=f.business_type, waits=False,
        )
    }  # fmt: skip
    trend: dict[str, list[Any]] = {
        "day": [], "satisfaction": [], "evaluation": [], "n": [], "link": []
    }  # fmt: skip
    day = start
    while day <= f.end:
        found = daily.get(day.isoformat(), {})
        trend["day"].append(day.isoformat())
        the_day: dict[str, object] = {"from": day, "to": day, **BEHIND["finished"]}
        trend["link"].append("/transactions?" + f.query(**the_day))
        trend["satisfaction"].append(found.get("satisfaction_rate"))
        trend["evaluation"].append(found.get("evaluation_rate"))
        trend["n"].append(found.get("ratings", 0))
        day += timedelta(days=1)
    ranked = tables.ranking_table(ctx, "branch", full=False)  # shown: 满意率 and n
    worst = [r for r in ranked.rows if r["rank"] is not None][::-1][:5]
    unranked = [r for r in ranked.rows if r["rank"] is None]
    ranked.rows = worst + unranked
    ranked.title = "最差网点（按满意率置信下限）"
    return page(
        ctx, request, "overview.html", title="概览", total=total, row=row, cards=cards,
        trend=json.dumps(trend), worst=ranked,
    )  # fmt: skip


def regions(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    table = tables.kpi_table(ctx, "region", title="按区域")
    return page(ctx, request, "tables.html", title="钻取：区域", tables=[table])


def branches(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    region = ctx.filters.region
    table = tables.kpi_table(ctx, "branch", title=f"网点 {region or ''}".strip())
    return page(ctx, request, "tables.html", title="钻取：网点", tables=[table])


def _other_branch(ctx: Ctx, request: Request) -> Response | None:
    """The filter form sent from a branch's page with another branch chosen: that branch's
    page (the path names the branch, the form's choice changes it)."""
    chosen = request.query_params.get("branch")
    if chosen and chosen != ctx.params["branch"]:
        return RedirectResponse(
            f"/branch/{quote(chosen)}?{ctx.filters.query(branch=None)}", status_code=303
        )
    return None


def branch(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    if (moved := _other_branch(ctx, request)) is not None:
        return moved
    b = ctx.params["branch"]
    ctx.check_branch(b)
    own = tables.kpi_table(ctx, "branch", branch=b, title="网点合计")
    counters = tables.kpi_table(ctx, "counter", branch=b, title="按窗口")
    tellers = tables.kpi_table(ctx, "teller", branch=b, title="按柜员")
    name = ctx.branch_name(b)
    return page(ctx, request, "tables.html", title=f"网点 {name}", tables=[own, counters, tellers])


def counter(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    if (moved := _other_branch(ctx, request)) is not None:
        return moved
    b = ctx.params["branch"]
    ctx.check_branch(b)
    try:
        number = int(ctx.params["counter"])
    except ValueError:
        raise BadRequest("a counter is a number") from None
    kpi = tables.kpi_table(ctx, "counter", branch=b, title=f"{number}号窗口")
    kpi.rows = [r for r in kpi.rows if r["counter"] == number]
    tx = tables.transactions_table(ctx, branch=b, counter=number)
    title = f"{ctx.branch_name(b)} {number}号窗口"
    return page(ctx, request, "tables.html", title=title, tables=[kpi, tx])


def teller(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    if (moved := _other_branch(ctx, request)) is not None:
        return moved
    b, t = ctx.params["branch"], ctx.params["teller"]
    ctx.check_branch(b)
    kpi = tables.kpi_table(ctx, "teller", branch=b, title=f"柜员 {t}")
    kpi.rows = [r for r in kpi.rows if r["teller"] == t]
    tx = tables.transactions_table(ctx, branch=b, teller=t)
    title = f"{ctx.branch_name(b)} 柜员 {t}"
    return page(ctx, request, "tables.html", title=title, tables=[kpi, tx])


def rankings(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    by = ctx.params.get("by") or "teller"
    table = tables.ranking_table(ctx, by)
    table.title = {"teller": "柜员排名", "branch": "网点排名"}.get(by, table.title)
    tabs = [
        (f"/rankings?{ctx.filters.query(by=b)}", n)
        for b, n in (("teller", "柜员"), ("branch", "网点"))
    ]
    return page(ctx, request, "tables.html", title="排名", tables=[table], tabs=tabs)


def timing(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    bank = tables.timing_table(ctx, "bank")
    bank.title = "满意率：按等候时长、按办理是否超时"
    by_type = tables.timing_table(ctx, "business_type")
    by_type.title = "按业务类型"
    chart = [r for r in bank.rows if r["dimension"] == "wait"]
    bars = {
        "labels": [r["value_name"] for r in chart],
        "rate": [r["satisfaction_rate"] for r in chart],
        "n": [r["ratings"] for r in chart],
    }
    return page(
        ctx, request, "tables.html", title="满意率与时长", tables=[bank, by_type],
        bars=json.dumps(bars),
    )  # fmt: skip


HEAT_STEPS = 8


def _grid(
    rows: list[dict[str, Any]], key: str, link: tables.Link, *, high_is_bad: bool
) -> dict[str, Any]:
    """A weekday x hour grid of one figure, each cell with its colour step (0 good .. 7 bad)
    and the link to its transactions."""
    hours = sorted({r["hour"] for r in rows})
    weekdays = sorted({(r["weekday"], r["weekday_name"]) for r in rows})
    values = [r[key] for r in rows if r[key] is not None]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    cells = {}
    for r in rows:
        v = r[key]
        if v is None:
            continue
        share = (v - lo) / (hi - lo) if hi > lo else 0.0
        step = round(share * (HEAT_STEPS - 1))
        cells[(r["weekday"], r["hour"])] = (
            r, step if high_is_bad else HEAT_STEPS - 1 - step, link(r)
        )  # fmt: skip
    return {"hours": hours, "weekdays": weekdays, "cells": cells, "key": key}


def heat(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    table = tables.heatmap_table(ctx)
    grids = [
        (
            "平均等候（按取号时段）",
            _grid(table.rows, "wait_mean_s", tables.heat_link(ctx, "called"), high_is_bad=True),
            "secs",
        ),
        (
            "满意率（按取号时段）",
            _grid(
                table.rows,
                "satisfaction_rate",
                tables.heat_link(ctx, "ratings"),
                high_is_bad=False,
            ),
            "pct",
        ),
    ]
    return page(ctx, request, "heatmap.html", title="时段热力图", table=table, grids=grids)


def alerts(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    open_only = ctx.params.get("open") == "1"
    table = tables.alerts_table(ctx, open_only=open_only)
    return page(ctx, request, "alerts.html", title="告警", table=table, open_only=open_only)


def acknowledge(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    ctx.require_write()
    alert_id = int(ctx.params["alert"])
    found = ctx.store.alert(alert_id)
    ctx.check_branch(found.branch)
    ctx.store.acknowledge_alert(alert_id, ctx.user, ctx.now())
    back = str(form.get("back", "/alerts")) if form else "/alerts"
    return RedirectResponse(back if back.startswith("/alerts") else "/alerts", status_code=303)


def followups(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    which = ctx.params.get("which") or "open"
    table = tables.followup_table(ctx, which)
    tabs = [
        (f"/followup?{ctx.filters.query(which=w)}", n)
        for w, n in (("open", "处理中"), ("overdue", "逾期"), ("closed", "已办结"), ("all", "全部"))
    ]
    return page(ctx, request, "tables.html", title="差评回访", tables=[table], tabs=tabs)


def _item(ctx: Ctx) -> dict[str, Any]:
    try:
        item_id = int(ctx.params["item"])
    except ValueError:
        raise BadRequest("an item is a number") from None
    rows = ctx.store.query("SELECT branch FROM followups WHERE id = ?", (item_id,))
    if not rows:
        raise LookupError(f"there is no follow-up item {item_id}")
    ctx.check_branch(rows[0][0])
    return followup.get_item(ctx.store.query, item_id)


def followup_item(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    item = _item(ctx)
    trail = followup.history(ctx.store.query, item["id"])
    (listed,) = [
        r
        for r in followup.items(ctx.store.query, ctx.centre, ctx.now(), branches=(item["branch"],))
        if r["id"] == item["id"]
    ]
    tx = f"/transactions?{ctx.filters.query(branch=item['branch'], ticket=item['ticket'] or '')}"
    return page(
        ctx, request, "followup_item.html", title=f"差评回访 {item['id']}", item=listed,
        trail=trail, tx=tx,
    )  # fmt: skip


CHANGES = {
    "assign": followup.assign,
    "note": followup.note,
    "close": followup.close,
    "dispute": followup.dispute,
    "lift": followup.lift,
}


def change_item(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    ctx.require_write()
    item = _item(ctx)
    action = str(form.get("action", "")) if form else ""
    change = CHANGES.get(action)
    if change is None:
        raise BadRequest(f"action must be one of {', '.join(CHANGES)}")
    text = str(form.get("text", "")) if form else ""
    at = ctx.now()
    ctx.store.write(
        f"follow-up item {item['id']}: {action}",
        lambda e, q: change(e, q, item["id"], text, by=ctx.user, at=at),
    )
    return RedirectResponse(f"/followup/{item['id']}", status_code=303)


def devices(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    table = tables.devices_table(ctx)
    return page(ctx, request, "tables.html", title="设备", tables=[table], live=True)


def transactions(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    table = tables.transactions_table(ctx)
    return page(ctx, request, "transactions.html", title="交易查询", table=table)
