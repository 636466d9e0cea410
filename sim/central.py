"""The central side of a simulation: the CA, the broker with the roster's access rules, and the
centre's ingest (``counterside centre run``) writing ``centre.sqlite``, all in one folder."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from domain.clock import CLOCK_ENV, ScaledClock
from sim.broker import HOST, Broker
from sim.pki import Authority
from sim.processes import Child, child_env, counterside
from sync.acl import Identity, Role

CENTRE = "centre-ingest"


@dataclass
class Central:
    data: Path
    authority: Authority
    broker: Broker
    ingest: Child
    config: Path | None = None  # the centre's configuration (branches, regions, targets)

    @property
    def db(self) -> Path:
        return self.data / "centre.sqlite"

    def mqtt(self, identity: str) -> tuple[str, int, Path, Path, Path]:
        """(host, port, CA, certificate, key) for ``identity``."""
        cert, key = self.authority.client(identity)
        return HOST, self.broker.port, self.authority.ca, cert, key

    def stop(self) -> None:
        self.ingest.stop()
        self.broker.stop()


def start_central(
    data: Path, devices: Sequence[Identity], port: int, config: Path | None = None
) -> Central:
    """Make what is missing (CA, certificates), start the broker, then the ingest (with the
    centre's configuration ``config`` if given)."""
    authority = Authority(data / "pki")
    roster = [Identity(None, CENTRE, Role.CENTRAL), *devices]
    for identity in roster:
        authority.client(identity.name)
    broker = Broker(data / "broker", authority, roster, port)
    broker.start()
    cert, key = authority.client(CENTRE)
    argv = counterside(
        "centre", "run", "--db", str(data / "centre.sqlite"), "--host", HOST,
        "--port", str(port), "--ca", str(authority.ca), "--cert", str(cert), "--key", str(key),
        "--client-id", CENTRE, "--resend-interval", "2",
    )  # fmt: skip
    if config is not None:
        argv += ["--config", str(config)]
    ingest = Child("centre", argv, data / "logs" / "centre.log", child_env()).start()
    return Central(data, authority, broker, ingest, config)


def centre_kpi(
    db: Path,
    day: date,
    *,
    fmt: str = "table",
    at: datetime | None = None,
    config: Path | None = None,
) -> str:
    """``counterside centre kpi`` of ``day`` by branch, as printed; ``at``: as of that moment
    (开机率 counts the business minutes up to it), else as of the environment's clock;
    ``config``: the centre's configuration."""
    argv = counterside("centre", "kpi", "--db", str(db), "--from", day.isoformat(),
                       "--to", day.isoformat(), "--by", "branch", "--format", fmt)  # fmt: skip
    if config is not None:
        argv += ["--config", str(config)]
    env = dict(os.environ)
    if at is not None:  # a clock that stands at ``at`` (its epoch is never reached)
        env[CLOCK_ENV] = ScaledClock(time.monotonic() + 1e9, at, 1.0, "kpi").to_text()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent, env=env)  # fmt: skip
    if proc.returncode != 0:
        raise RuntimeError(f"counterside centre kpi failed:\n{proc.stderr}")
    return proc.stdout


def centre_kpi_json(db: Path, day: date) -> Any:
    return json.loads(centre_kpi(db, day, fmt="json"))
