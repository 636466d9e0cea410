"""The JSON API under ``/api/v1`` for the bank's own BI systems: the dashboard's tables with the
same filters and the same scope (a session of a user, as the pages), read only; its OpenAPI
description at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from central import followup
from central.web.context import Ctx
from central.web.tables import BUILDERS, alerts_table, devices_table

LIVE_ALERTS = 5


def table(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    ctx.require_export()  # a viewer reads the pages; rows for another system are an export
    name = ctx.params["name"]
    if name not in BUILDERS:
        raise LookupError(f"no table {name}")
    found = BUILDERS[name](ctx)
    f = ctx.filters
    filters = {"from": f.start.isoformat(), "to": f.end.isoformat(), **found.query}
    for key in ("branch", "region", "business_type"):
        if getattr(f, key):
            filters[key] = getattr(f, key)
    return JSONResponse({"table": name, "filters": filters, "rows": found.rows})


def followup_item(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    from central.web.pages import _item

    ctx.require_export()
    item = _item(ctx)
    return JSONResponse({"item": item, "history": followup.history(ctx.store.query, item["id"])})


def live(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    """What the pages poll: open alerts (count and the newest) and the devices' status."""
    alerts = alerts_table(ctx, open_only=True).rows
    devices = devices_table(ctx, uptime=False).rows
    return JSONResponse(
        {
            "at": ctx.now().isoformat(timespec="seconds"),
            "open_alerts": len(alerts),
            "alerts": alerts[:LIVE_ALERTS],
            "devices_online": sum(1 for d in devices if d["status"] == "online"),
            "devices": [
                {k: d[k] for k in ("device_id", "branch", "status", "status_at", "last_seen")}
                for d in devices
            ],
        }
    )


_FILTERS: list[dict[str, Any]] = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "first business day (default: the first of this month)"},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"},
     "description": "last business day, included (default: today)"},
    {"name": "branch", "in": "query", "schema": {"type": "string"},
     "description": "one branch (403 outside your scope)"},
    {"name": "region", "in": "query", "schema": {"type": "string"},
     "description": "a region path, e.g. 浙江省/杭州市"},
    {"name": "business_type", "in": "query", "schema": {"type": "string"}},
]  # fmt: skip
_EXTRA: dict[str, list[dict[str, Any]]] = {
    "kpi": [{"name": "by", "in": "query", "schema": {"enum": list(
        ("bank", "region", "branch", "counter", "teller", "business_type"))}}],
    "ranking": [{"name": "by", "in": "query", "schema": {"enum": ["teller", "branch"]}}],
    "timing": [{"name": "by", "in": "query",
                "schema": {"enum": ["bank", "branch", "business_type"]}}],
    "alerts": [{"name": "open", "in": "query", "schema": {"enum": ["1"]}}],
    "followup": [{"name": "which", "in": "query",
                  "schema": {"enum": ["all", "open", "overdue", "closed"]}}],
    "transactions": [
        {"name": n, "in": "query", "schema": {"type": t}}
        for n, t in (("counter", "integer"), ("teller", "string"), ("ticket", "string"),
                     ("rating", "integer"), ("rating_status", "string"), ("outcome", "string"),
                     ("weekday", "integer"), ("hour", "integer"), ("wait_band", "integer"),
                     ("service", "integer"))
    ] + [
        {"name": n, "in": "query", "schema": {"enum": ["1"]}, "description": d}
        for n, d in (("called", "customers called, with their wait"),
                     ("limited", "with a waiting limit"),
                     ("scored", "the ratings 满意率 counts"),
                     ("over", "finished with the wait or the service over its limit"))
    ],
    "devices": [],
    "heatmap": [],
}  # fmt: skip
_DESCRIPTIONS = {
    "kpi": "KPIs per group (the rows of `counterside centre kpi --format json`)",
    "ranking": "tellers or branches by the lower bound of 满意率's interval",
    "timing": "满意率 by waiting-time band and by service within or over its limit",
    "alerts": "alerts, newest first",
    "followup": "follow-up items of bad ratings (差评回访)",
    "transactions": "transactions (at most 500, newest first)",
    "devices": "devices with their status, progress and 开机率 over the period",
    "heatmap": "waits and 满意率 by weekday (0 Monday) x hour of arrival",
}
_ERRORS = {
    "400": {"description": "a filter that cannot be used"},
    "401": {"description": "not signed in"},
    "403": {"description": "outside the user's scope"},
}


def openapi_spec() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    answer = {"type": "object", "properties": {
        "table": {"type": "string"}, "filters": {"type": "object"},
        "rows": {"type": "array", "items": {"type": "object"}}}}  # fmt: skip
    for name in BUILDERS:
        paths[f"/api/v1/{name}"] = {
            "get": {
                "summary": _DESCRIPTIONS[name],
                "parameters": _FILTERS + _EXTRA[name],
                "responses": {
                    "200": {"description": "the rows",
                            "content": {"application/json": {"schema": answer}}},
                    **_ERRORS,
                },
            }
        }  # fmt: skip
    paths["/api/v1/followup/{item}"] = {
        "get": {
            "summary": "one follow-up item and its audit trail",
            "parameters": [{"name": "item", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "responses": {"200": {"description": "the item"}, **_ERRORS,
                          "404": {"description": "no such item"}},
        }
    }  # fmt: skip
    paths["/api/v1/live"] = {
        "get": {"summary": "open alerts and device status (polled by the pages)",
                "responses": {"200": {"description": "the state now"}, **_ERRORS}}
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "counterside centre API",
            "version": "1",
            "description": "Read only. An API token (counterside centre user token NAME) as "
            "`Authorization: Bearer cs_...`, or the session of a user signed in at /login; "
            "every answer is limited to that user's scope. Rates are fractions 0..1, times in "
            "seconds.",
        },
        "components": {"securitySchemes": {
            "token": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "cs_session"}}},
        "security": [{"token": []}, {"session": []}],
        "paths": paths,
    }  # fmt: skip


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_spec())
