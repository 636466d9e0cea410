"""Every table as CSV or XLSX (``/export/<name>.csv|xlsx`` with the page's filters): the
table's rows with every field as the analytics give it (rates as fractions 0..1, seconds as
seconds: the figures of ``counterside centre kpi --format json``), and in the XLSX a sheet with
the filters and one with the KPI definitions. A viewer exports nothing."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from central.web.context import Ctx
from central.web.tables import BUILDERS, Table

DEFINITIONS = (
    (
        "满意率 satisfaction_rate",
        "评价为满意等级的次数 / 评价次数（不含中性等级）；附95% Wilson区间",
    ),
    ("调整后满意率 satisfaction_rate_adjusted", "同上，剔除经核实申诉（客户责任）的评价"),
    ("评价率 evaluation_rate", "已评价的办结交易 / 办结交易"),
    ("差评率 bad_rating_rate", "评价为不满意等级的次数 / 评价次数"),
    ("开机率 uptime_rate", "评价器营业时间内通电分钟 / 营业分钟"),
    ("平均等候 wait_mean_s", "客户自取号至叫号的等候秒数（含过号）"),
    ("等候P90 wait_p90_s", "等候时长的第90百分位（直方图，15秒精度）"),
    ("超时 over_limit", "等候或办理超过时限的办结交易数"),
    ("过号 no_shows", "叫号未到的客户数"),
)
"""The KPI definitions written into every XLSX (docs/centre.md has them in full)."""

FORMATS = ("csv", "xlsx")


def _cells(table: Table) -> tuple[list[str], list[list[Any]]]:
    names: list[str] = []
    for row in table.rows:
        names += [k for k in row if k not in names]
    rows = []
    for row in table.rows:
        values = []
        for k in names:
            v = row.get(k)
            values.append(json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v)
        rows.append(values)
    return names, rows


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""How a cell's text begins that a spreadsheet would run as a formula: text typed by a branch
manager (an owner, a note) or sent by a device (a teller's name) must stay text."""


def _as_text(value: Any) -> Any:
    """A CSV cell that Excel cannot run: text that would start a formula gets a leading '."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def _keep_text(sheet: Any) -> None:
    """openpyxl takes text starting with ``=`` for a formula: every such cell stays text."""
    for row in sheet.iter_rows():
        for cell in row:
            if isinstance(cell.value, str) and cell.data_type == "f":
                cell.data_type = "s"


def to_csv(table: Table) -> bytes:
    names, rows = _cells(table)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_as_text(n) for n in names])
    writer.writerows([[_as_text(v) for v in row] for row in rows])
    return out.getvalue().encode("utf-8-sig")  # the BOM: Excel then reads the Chinese right


def to_xlsx(tables: list[Table], about: list[tuple[str, str]]) -> bytes:
    """A workbook: one sheet per table (its every field), then ``about`` (filters, who, when)
    and the KPI definitions."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for table in tables:
        sheet = book.create_sheet(table.sheet or "data")
        names, rows = _cells(table)
        sheet.append(names)
        for values in rows:
            sheet.append(values)
        _keep_text(sheet)
        for i, name in enumerate(names, 1):
            if name.endswith(("_rate", "_low", "_high")):
                for (c,) in sheet.iter_rows(min_row=2, min_col=i, max_col=i):
                    c.number_format = "0.0%"
    info = book.create_sheet("about")
    for key, value in about:
        info.append([key, value])
    _keep_text(info)
    defs = book.create_sheet("definitions")
    for name, text in DEFINITIONS:
        defs.append([name, text])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def about(ctx: Ctx, title: str, query: dict[str, Any]) -> list[tuple[str, str]]:
    f = ctx.filters
    return [
        ("table", title),
        ("from", f.start.isoformat()),
        ("to", f.end.isoformat()),
        ("scope", ctx.scope.describe()),
        *((k, str(v)) for k, v in query.items()),
        ("branch", f.branch or "(all)"),
        ("business_type", f.business_type or "(all)"),
        ("by", ctx.user),
        ("at", ctx.now().isoformat(timespec="seconds")),
    ]


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def export(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    ctx.require_export()
    name, fmt = ctx.params["name"], ctx.params["fmt"]
    if name not in BUILDERS or fmt not in FORMATS:
        raise LookupError(f"no export {name}.{fmt}")
    table = BUILDERS[name](ctx)
    f = ctx.filters
    filename = f"{table.name}_{f.start}_{f.end}.{fmt}"
    if fmt == "csv":
        return Response(
            to_csv(table), media_type="text/csv; charset=utf-8", headers=attachment(filename)
        )
    body = to_xlsx([table], about(ctx, table.title, table.query))
    return Response(body, media_type=XLSX, headers=attachment(filename))
