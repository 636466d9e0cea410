"""A PostgreSQL server for the centre's tests: the one named by ``COUNTERSIDE_TEST_PG`` (a
``postgresql://`` URL of a user that may create databases), or else a throwaway cluster started
with Debian's ``postgresql`` binaries (``scripts/setup.sh test`` installs them) in a temporary
directory on a free port, stopped and removed at the end of the session. A server already
running on the machine is never used unless named.

Each test gets a database of its own (:meth:`PostgresServer.new_database`). As root (CI), the
cluster runs as the ``postgres`` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.mqtt_broker import free_port

ENV_VAR = "COUNTERSIDE_TEST_PG"


class PostgresUnavailable(RuntimeError):
    pass


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise PostgresUnavailable(
            f"no {name}: install Debian's postgresql (bash scripts/setup.sh test) "
            f"or name a server in ${ENV_VAR}"
        )
    return path


class PostgresServer:
    """``durable``: a cluster that syncs its commits to disk, as a real one (the benchmarks);
    the tests' own runs without (``fsync=off``, ``synchronous_commit=off``)."""

    def __init__(self, *, durable: bool = False) -> None:
        self.durable = durable
        self._dir: Path | None = None
        self._as: list[str] = []
        named = os.environ.get(ENV_VAR, "").strip()
        if named:
            self.url = named
            return
        self._start()

    def _start(self) -> None:
        initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
        self._dir = Path(tempfile.mkdtemp(prefix="counterside-pg-"))
        if os.geteuid() == 0:
            self._as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self._dir, "postgres")
        data, port = self._dir / "data", free_port()
        self._run(initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--locale=C", *(() if self.durable else ("--no-sync",)))  # fmt: skip
        options = f"-p {port} -k {self._dir} -c listen_addresses=127.0.0.1 -c max_connections=50"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = self._dir / "server.log"
        self._run(pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start")
        self._pg_ctl, self._data = pg_ctl, data
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(args[:2])}: {done.stderr or done.stdout}")

    def new_database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"counterside_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(self.url)
        return urlunsplit(parts._replace(path=f"/{name}"))

    def stop(self) -> None:
        if self._dir is None:
            return
        try:
            self._run(self._pg_ctl, "-D", str(self._data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
