"""``counterside centre web``: serve the dashboard with uvicorn (docs/dashboard.md)."""

from __future__ import annotations

from datetime import timedelta

from central.store import CentralStore
from central.web.app import create_app
from central.web.context import Settings
from config.centre import CentreConfig


def serve(
    db: str,
    centre: CentreConfig,
    *,
    host: str,
    port: int,
    idle_minutes: int,
    secure_cookies: bool,
) -> None:
    import uvicorn

    CentralStore(db, centre=centre).close()  # the schema created or migrated up front
    settings = Settings(
        db, centre, idle=timedelta(minutes=idle_minutes), secure_cookies=secure_cookies
    )
    print(f"centre web: the dashboard on http://{host}:{port}/ (over {db})", flush=True)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=True)
