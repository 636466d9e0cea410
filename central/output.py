"""KPI and ranking rows as a table (for people), CSV or JSON (a list of rows, for programs)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from domain.report import fixed_width


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _interval(row: dict[str, Any], name: str) -> str:
    lo, hi = row[f"{name}_low"], row[f"{name}_high"]
    return "-" if lo is None else f"{lo:.1%}-{hi:.1%}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    whole = round(value)
    return f"{whole // 60}:{whole % 60:02d}"


def _mark(met: bool | None) -> str:
    return {True: "", False: " ✗", None: ""}[met]


def _group(row: dict[str, Any]) -> str:
    parts = []
    for key in ("region", "branch", "counter", "teller", "business_type"):
        if key in row:
            value = row[key]
            parts.append(f"{value}号窗口" if key == "counter" else str(value or "-"))
    if row.get("teller_name"):
        parts.append(row["teller_name"])
    return " ".join(parts) or "全行 (bank)"


KPI_HEADERS = (
    "group", "finished", "rated", "评价率", "满意率", "95% CI", "差评率", "开机率",
    "wait mean", "wait p90", "in limit", "over", "no-shows",
)  # fmt: skip


def kpi_cells(row: dict[str, Any]) -> tuple[str, ...]:
    meets = row["meets"]
    return (
        _group(row),
        str(row["finished"]),
        str(row["rated"]),
        _percent(row["evaluation_rate"]) + _mark(meets["evaluation"]),
        _percent(row["satisfaction_rate"]) + _mark(meets["satisfaction"]),
        _interval(row, "satisfaction"),
        _percent(row["bad_rating_rate"]),
        _percent(row["uptime_rate"]) + _mark(meets["uptime"]),
        _seconds(row["wait_mean_s"]),
        _seconds(row["wait_p90_s"]),
        _percent(row["wait_within_limit_rate"]),
        str(row["over_limit"]),
        str(row["no_shows"]),
    )


def kpi_table(rows: Sequence[dict[str, Any]]) -> str:
    """✗ marks a rate that misses its target."""
    return "\n".join(fixed_width([KPI_HEADERS, *(kpi_cells(r) for r in rows)]))


def ranking_table(rows: Sequence[dict[str, Any]]) -> str:
    cells = [("rank", "group", "n", "满意率", "95% CI", "")]
    for r in rows:
        cells.append(
            (
                str(r["rank"]) if r["rank"] is not None else "-",
                _group(r),
                str(r["ratings"]),
                _percent(r["satisfaction_rate"]),
                _interval(r, "satisfaction"),
                "" if r["rank"] is not None else r["ranked"],
            )
        )
    return "\n".join(fixed_width(cells))


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    """A row for CSV: nested values (levels, meets) as JSON text."""
    return {
        k: json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list) else v
        for k, v in row.items()
    }


def write_rows(
    rows: Sequence[dict[str, Any]],
    fmt: str,
    out: TextIO,
    *,
    table: Callable[[Sequence[dict[str, Any]]], str],
) -> None:
    if fmt == "json":
        json.dump(list(rows), out, ensure_ascii=False, indent=1)
        out.write("\n")
    elif fmt == "csv":
        rows = [
            {k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()} for r in rows
        ]
        names: list[str] = []
        for row in rows:
            names += [k for k in row if k not in names]
        writer = csv.DictWriter(out, fieldnames=names)
        writer.writeheader()
        writer.writerows(_flat(r) for r in rows)
    else:
        out.write(table(rows) + "\n")


def timing_table(rows: Sequence[dict[str, Any]]) -> str:
    cells = [("group", "by", "", "n", "满意率", "95% CI")]
    for r in rows:
        group = r.get("branch") or r.get("business_type") or "全行 (bank)"
        cells.append(
            (
                str(group),
                "wait" if r["dimension"] == "wait" else "service",
                r["value"],
                str(r["ratings"]),
                _percent(r["satisfaction_rate"]),
                _interval(r, "satisfaction"),
            )
        )
    return "\n".join(fixed_width(cells))


def trust_table(rows: Sequence[dict[str, Any]]) -> str:
    cells = [("rank", "teller", "n", "≤1 s", "top", "branch top", "paused", "run", "flags")]
    for r in rows:
        cells.append(
            (
                str(r["rank"]),
                f"{r['branch']} {r['teller']}",
                str(r["ratings"]),
                _percent(r["quick_share"]),
                _percent(r["top_share"]),
                _percent(r["branch_top_share"]),
                str(r["paused_presses"]),
                str(r["longest_run"]),
                ", ".join(r["flags"]) or "-",
            )
        )
    return "\n".join(fixed_width(cells))


def alert_fields(alert: Any) -> dict[str, Any]:
    """An alert (``central.alerts.AlertRow``) as a row."""
    row = dict(alert.__dict__)
    row["evidence"] = list(alert.evidence)
    return row


def alerts_table(rows: Sequence[dict[str, Any]]) -> str:
    cells = [("id", "branch", "kind", "at", "message", "acknowledged")]
    for r in rows:
        acked = f"{r['acked_by']} {r['acked_at']}" if r["acked_at"] else "-"
        cells.append((str(r["id"]), r["branch"], r["kind"], r["at"][:16], r["message"], acked))
    return "\n".join(fixed_width(cells))
