"""The monthly report of a branch or of the bank (within the user's scope): a print-friendly
page and the same tables as one XLSX, with the KPI definitions written in. A month is whole
business days, the 1st to its last day; its figures are those of the KPI, ranking, timing and
follow-up tables of that period (``central/web/tables.py``)."""

from __future__ import annotations

import calendar
from datetime import date
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from central.web import tables
from central.web.context import BadRequest, Ctx
from central.web.exports import DEFINITIONS, XLSX, about, attachment, to_xlsx
from central.web.render import render


def _month(ctx: Ctx) -> Ctx:
    """``ctx`` over the month of ``month=YYYY-MM`` (default: the month of ``to``)."""
    text = ctx.params.get("month", "").strip()
    try:
        first = date.fromisoformat(f"{text}-01") if text else ctx.filters.end.replace(day=1)
    except ValueError:
        raise BadRequest(f"month: expected a month like 2026-11, got {text!r}") from None
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    params = {**ctx.params, "from": first.isoformat(), "to": last.isoformat()}
    return Ctx(ctx.settings, ctx.session, params)


def report_tables(ctx: Ctx) -> list[tables.Table]:
    branch = ctx.filters.branch
    summary = tables.kpi_table(ctx, "branch" if branch else "bank", branch=branch, title="汇总")
    parts = [summary]
    if branch:
        parts += [
            tables.kpi_table(ctx, "counter", branch=branch, title="按窗口"),
            tables.kpi_table(ctx, "teller", branch=branch, title="按柜员"),
        ]
    else:
        parts.append(tables.kpi_table(ctx, "branch", title="按网点"))
    ranked = tables.ranking_table(ctx, "teller")
    ranked.title = "柜员排名"
    timing = tables.timing_table(ctx, "bank")
    timing.title = "满意率与等候/办理时长"
    followups = tables.followup_table(ctx, "all")
    parts += [ranked, timing, followups]
    sheets = ["summary", *(("by_counter", "by_teller") if branch else ("by_branch",))]
    for table, sheet in zip(parts, [*sheets, "ranking", "timing", "followup"], strict=True):
        table.sheet = sheet
    return parts


def _followup_counts(table: tables.Table) -> dict[str, int]:
    rows = table.rows
    return {
        "all": len(rows),
        "open": sum(1 for r in rows if r["status"] == "open"),
        "overdue": sum(1 for r in rows if r["status"] == "open" and r["overdue"]),
        "late": sum(1 for r in rows if r["status"] == "closed" and r["late"]),
        "disputed": sum(1 for r in rows if r["disputed"]),
    }


def report(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    ctx = _month(ctx)
    parts = report_tables(ctx)
    who = ctx.branch_name(ctx.filters.branch) if ctx.filters.branch else ctx.scope.describe()
    month = ctx.filters.start.strftime("%Y年%m月")
    context: dict[str, Any] = {
        "ctx": ctx,
        "title": f"{who} {month} 服务评价月报",
        "tables": parts,
        "summary": parts[0].rows[0] if parts[0].rows else {},
        "followups": _followup_counts(parts[-1]),
        "definitions": DEFINITIONS,
        "targets": ctx.centre.kpi.targets,
        "xlsx": f"/report.xlsx?{ctx.filters.query(month=ctx.filters.start.strftime('%Y-%m'))}",
        "export_url": lambda t, fmt: tables.export_url(t, ctx, fmt),
    }
    return render(request, "report.html", context)


def report_xlsx(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    ctx.require_export()
    ctx = _month(ctx)
    parts = report_tables(ctx)
    f = ctx.filters
    name = f"report_{f.branch or 'bank'}_{f.start.strftime('%Y-%m')}.xlsx"
    body = to_xlsx(parts, about(ctx, "monthly report", {"month": f.start.strftime("%Y-%m")}))
    return Response(body, media_type=XLSX, headers=attachment(name))
