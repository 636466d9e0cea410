"""``counterside centre web``: serve the dashboard with uvicorn (docs/dashboard.md)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from central.store import CentralStore
from central.web.app import create_app
from central.web.context import Settings
from config.centre import CentreConfig
from support.sdnotify import Service

PING_S = 1.0


def serve(
    db: str,
    centre: CentreConfig,
    *,
    host: str,
    port: int,
    idle_minutes: int,
    secure_cookies: bool,
    poll_s: float = 15.0,
) -> None:
    import uvicorn

    CentralStore(db, centre=centre).close()  # the schema created or migrated up front
    settings = Settings(
        db, centre, idle=timedelta(minutes=idle_minutes), secure_cookies=secure_cookies,
        poll=timedelta(seconds=poll_s),
    )  # fmt: skip
    print(f"centre web: the dashboard on http://{host}:{port}/ (over {db})", flush=True)
    config = uvicorn.Config(
        create_app(settings), host=host, port=port, log_level="info", proxy_headers=True
    )
    with contextlib.suppress(KeyboardInterrupt):  # uvicorn stops on Ctrl-C, then raises it
        asyncio.run(_serve(uvicorn.Server(config), Service()))


async def _serve(server, service: Service) -> None:
    """uvicorn's server, with systemd told when it listens, and its watchdog pinged from the
    event loop's own turns (a loop blocked by a request stops the pings: systemd restarts it)."""
    task = asyncio.create_task(server.serve())
    while not server.started and not task.done():
        await asyncio.sleep(0.05)
    if server.started:
        service.ready("serving the dashboard")
    while not task.done():
        service.progress()
        await asyncio.wait({task}, timeout=PING_S)
    service.stopping()
    await task
