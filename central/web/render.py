"""Jinja2 templates (``templates/``) and the filters that show figures: rates as percentages
with their interval, seconds as m:ss, missed targets marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(directory=HERE / "templates")


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def secs(value: float | None) -> str:
    if value is None:
        return "-"
    whole = round(value)
    return f"{whole // 60}:{whole % 60:02d}"


def cell(row: dict[str, Any], column: Any) -> str:
    """A row's value in ``column`` as shown in a table cell."""
    value = row.get(column.key)
    if column.kind == "pct":
        text = pct(value)
        if column.meets and row.get("meets", {}).get(column.meets) is False:
            text += " ✗"
        return text
    if column.kind == "secs":
        return secs(value)
    if column.kind == "time" and value:
        return str(value)[:16].replace("T", " ")
    if column.kind == "bool":
        return "是" if value else ""
    return "-" if value is None or value == "" else str(value)


def interval(row: dict[str, Any], name: str | None) -> str:
    if not name or row.get(f"{name}_low") is None:
        return ""
    return f"{row[f'{name}_low']:.1%}–{row[f'{name}_high']:.1%}"


TEMPLATES.env.filters.update(pct=pct, secs=secs)
TEMPLATES.env.globals.update(cell=cell, interval=interval)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    settings = getattr(request.app.state, "settings", None)
    poll_ms = round(settings.poll.total_seconds() * 1000) if settings is not None else 15_000
    return TEMPLATES.TemplateResponse(
        request, name, {"poll_ms": poll_ms, **context}, status_code=status
    )
