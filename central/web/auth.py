"""Signing in and out, and the guard every route goes through.

A page or API route is a plain function ``handler(ctx, request, form)`` run in a worker thread
(the central store is synchronous) by :func:`guarded`, which first finds the live session (its
cookie holds a random token; the database holds only its hash), then, for a form (POST),
checks the form's CSRF token against the session's, and turns the errors into answers: not
signed in (a page: to the sign-in page; the API: 401), :class:`Forbidden` (403),
:class:`BadRequest` (400), an unknown thing (404; 403 for a user with a limited scope, as for
another branch's). The sign-in form has its own CSRF token in
a short cookie (double submit), and a name's failed sign-ins make it wait
(``central/accounts.py``). No password is ever logged or stored in clear.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from central import accounts
from central.accounts import Session
from central.followup import FollowupError
from central.web.context import BadRequest, Ctx, Settings
from central.web.render import render
from central.web.scope import Forbidden, Scope

COOKIE = "cs_session"
SIGN_IN_COOKIE = "cs_signin"

Handler = Callable[[Ctx, Request, FormData | None], Response]


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


BACKGROUND = "x-background"
"""The header of the pages' own polls (app.js): they are not the user's activity, so a page
left open does not keep its session alive past the idle time."""


def _session(settings: Settings, token: str | None, background: bool = False) -> Session | None:
    if not token:
        return None
    store, at = settings.store(), settings.clock()
    live, write = accounts.peek(store.query, token, at=at, idle=settings.idle)
    if not write or (background and live is not None):  # a poll never counts as activity
        return live  # most requests: read only, no write lock taken from the ingest
    return store.write(
        "session", lambda e, q: accounts.session(e, q, token, at=at, idle=settings.idle)
    )


def _error(request: Request, api: bool, status: int, message: str) -> Response:
    if api:
        return JSONResponse({"error": message}, status_code=status)
    return render(request, "error.html", {"status": status, "message": message}, status)


def guarded(handler: Handler, *, api: bool = False) -> Callable[[Request], Awaitable[Response]]:
    """The route of ``handler``: signed in, CSRF-checked forms, errors as answers."""

    async def route(request: Request) -> Response:
        settings = settings_of(request)
        bearer = request.headers.get("authorization", "")
        if api and bearer.lower().startswith("bearer "):  # a BI system's API token
            token = bearer[7:].strip()
            session = await run_in_threadpool(
                lambda: accounts.token_session(settings.store().query, token)
            )
            if session is None:
                return JSONResponse({"error": "unknown or revoked API token"}, status_code=401)
        else:
            background = request.headers.get(BACKGROUND) == "1"
            session = await run_in_threadpool(
                _session, settings, request.cookies.get(COOKIE), background
            )
        if session is None:
            if api:
                return JSONResponse({"error": "not signed in"}, status_code=401)
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={_quote(target)}", status_code=303)
        form = None
        if request.method == "POST":
            form = await request.form()
            given = str(form.get("csrf", ""))
            if not secrets.compare_digest(given.encode(), session.csrf.encode()):
                return _error(request, api, 403, "表单已失效 (CSRF token missing or wrong)")
        params = {**request.query_params, **request.path_params}
        try:
            ctx = Ctx(settings, session, {k: str(v) for k, v in params.items()})
            return await run_in_threadpool(handler, ctx, request, form)
        except Forbidden as exc:
            return _error(request, api, 403, str(exc))
        except (BadRequest, FollowupError, ValueError) as exc:
            return _error(request, api, 400, str(exc))
        except LookupError as exc:
            if not Scope.of(session.user).everything:
                # an alert or item of another branch answers 403: so must one that does not
                # exist, or the answer would tell which exist elsewhere
                return _error(request, api, 403, "not found in your scope")
            return _error(request, api, 404, str(exc.args[0] if exc.args else exc))

    return route


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never ``//host`` or ``/\\host``: an open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


async def sign_in_page(request: Request) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        {"csrf": token, "next": _safe_next(request.query_params.get("next")), "message": ""},
    )
    _set_cookie(request, response, SIGN_IN_COOKIE, token, max_age=3600)
    return response


async def sign_in(request: Request) -> Response:
    settings = settings_of(request)
    form = await request.form()
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    given = str(form.get("csrf", ""))
    target = _safe_next(str(form.get("next", "/")))
    if not expected or not secrets.compare_digest(given.encode(), expected.encode()):
        return render(
            request, "error.html", {"status": 403, "message": "表单已失效，请重新登录"}, 403
        )
    name, password = str(form.get("name", "")), str(form.get("password", ""))

    def check() -> accounts.SignIn:  # in a worker thread, with that thread's store
        store, at = settings.store(), settings.clock()
        # the costly hash is checked with no lock held: sign-ins never stall the ingest
        checked = accounts.check_password(store.query, name, password, at=at)
        return store.write("sign in", lambda e, q: accounts.record_sign_in(e, q, checked, at=at))

    done = await run_in_threadpool(check)
    if done.token is None:
        waiting = done.refused != "wrong name or password"
        message = "登录失败次数过多，请稍后再试" if waiting else "用户名或密码错误"
        status = 429 if waiting else 401
        context: dict[str, Any] = {"csrf": expected, "next": target, "message": message}
        return render(request, "login.html", context, status)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(request, response, COOKIE, done.token, max_age=None)
    response.delete_cookie(SIGN_IN_COOKIE)
    return response


def sign_out(ctx: Ctx, request: Request, form: FormData | None) -> Response:
    token = request.cookies.get(COOKIE, "")
    ctx.store.write("sign out", lambda e, q: accounts.sign_out(e, token))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


def _set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict" if name == SIGN_IN_COOKIE else "lax",
        secure=settings_of(request).secure_cookies,
    )
