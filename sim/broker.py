"""A Mosquitto broker for a demo or a load test: the project's TLS listener and generated ACL.

The configuration is the deployment's (``deploy/mosquitto/central.conf``) made with
``sync.acl``: certificates only (CN = username = client id), the roster's access rules, the
payload limits; persistence in the folder. The broker runs as a child process until :meth:`stop`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from sim.pki import Authority
from sync import acl

HOST = "127.0.0.1"


class BrokerError(RuntimeError):
    """The broker did not start; carries the end of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def mosquitto_path() -> str:
    found = os.environ.get("COUNTERSIDE_MOSQUITTO") or shutil.which("mosquitto")
    for path in (found, "/usr/sbin/mosquitto"):
        if path and Path(path).exists():
            return path
    raise BrokerError("mosquitto is missing (Debian package mosquitto)")


class Broker:
    """Mosquitto in ``folder`` on ``port`` for ``roster``, its TLS files from ``authority``."""

    def __init__(
        self, folder: Path, authority: Authority, roster: Sequence[acl.Identity], port: int
    ) -> None:
        self.folder, self.authority, self.port = folder, authority, port
        self.roster = list(roster)
        self.log = folder / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def config_text(self) -> str:
        cert, key = self.authority.server()
        text = "\n".join(
            [
                "# written by counterside (sim/broker.py): the deployment's security, one folder",
                f"user {pwd.getpwuid(os.geteuid()).pw_name}",  # root would drop to mosquitto
                "set_tcp_nodelay true",
                f"log_dest file {self.log}",
                "log_type error",
                "log_type warning",
                "log_type notice",
                "connection_messages true",
                "persistence true",
                f"persistence_location {self.folder}/",
                "autosave_interval 30",
                "max_inflight_messages 20",
                "max_queued_messages 100000",
                "",
            ]
        )
        text += acl.security_config(acl_file=self.folder / "acl")
        text += acl.tls_listener(self.port, acl.TlsFiles(self.authority.ca, cert, key), bind=HOST)
        return text

    def start(self, timeout: float = 15.0) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "acl").write_text(acl.acl_text(self.roster, source="demo roster"), "utf-8")
        conf = self.folder / "mosquitto.conf"
        conf.write_text(self.config_text(), encoding="utf-8")
        with open(self.folder / "mosquitto.out", "ab") as out:
            self._proc = subprocess.Popen(
                [mosquitto_path(), "-c", str(conf)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches it through our stop, in order
            )
        deadline = time.monotonic() + timeout
        while not _accepts(self.port):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text("utf-8", "replace")[-2000:] if self.log.exists() else ""
                said = (self.folder / "mosquitto.out").read_text("utf-8", "replace")[-2000:]
                raise BrokerError(f"mosquitto did not start:\n{tail}{said}")
            time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()  # it saves its persistence file on the way out
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
