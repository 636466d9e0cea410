"""The dashboard's ASGI app (Starlette): its routes, static files and security headers.

``create_app(settings)`` is what ``counterside centre web`` serves with uvicorn and what the
tests drive (``Settings.clock`` injected). Every route but the sign-in page, the static files
and the OpenAPI description goes through :func:`central.web.auth.guarded`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from central.web import api, auth, exports, pages, report
from central.web.auth import guarded
from central.web.context import Settings
from central.web.render import HERE

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def routes() -> list[Route | Mount]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/login", auth.sign_in_page, methods=get),
        Route("/login", auth.sign_in, methods=post),
        Route("/logout", guarded(auth.sign_out), methods=post),
        Route("/", guarded(pages.overview), methods=get),
        Route("/regions", guarded(pages.regions), methods=get),
        Route("/branches", guarded(pages.branches), methods=get),
        Route("/branch/{branch}", guarded(pages.branch), methods=get),
        Route("/branch/{branch}/counter/{counter}", guarded(pages.counter), methods=get),
        Route("/branch/{branch}/teller/{teller}", guarded(pages.teller), methods=get),
        Route("/rankings", guarded(pages.rankings), methods=get),
        Route("/timing", guarded(pages.timing), methods=get),
        Route("/heatmap", guarded(pages.heat), methods=get),
        Route("/alerts", guarded(pages.alerts), methods=get),
        Route("/alerts/{alert:int}/ack", guarded(pages.acknowledge), methods=post),
        Route("/followup", guarded(pages.followups), methods=get),
        Route("/followup/{item}", guarded(pages.followup_item), methods=get),
        Route("/followup/{item}", guarded(pages.change_item), methods=post),
        Route("/devices", guarded(pages.devices), methods=get),
        Route("/transactions", guarded(pages.transactions), methods=get),
        Route("/export/{name}.{fmt}", guarded(exports.export), methods=get),
        Route("/report", guarded(report.report), methods=get),
        Route("/report.xlsx", guarded(report.report_xlsx), methods=get),
        Route("/api/v1/openapi.json", api.openapi, methods=get),
        Route("/api/v1/live", guarded(api.live, api=True), methods=get),
        Route("/api/v1/followup/{item}", guarded(api.followup_item, api=True), methods=get),
        Route("/api/v1/{name}", guarded(api.table, api=True), methods=get),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


def create_app(settings: Settings) -> Starlette:
    app = Starlette(routes=routes(), middleware=[Middleware(SecurityHeaders)])
    app.state.settings = settings
    return app
