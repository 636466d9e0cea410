"""Throw-away Mosquitto brokers for tests: real processes, a test CA, the production ACL.

Every broker listens on 127.0.0.1 on free ports (never the system broker on 1883) and keeps all
its files (config, ACL, password file, log, persistence) in the directory it is given.

Use from a test module (import the fixtures explicitly; they depend only on pytest's own; the
redundant ``as`` marks a re-export, so ruff accepts the fixture name as a test parameter)::

    from tests.mqtt_broker import ProbeClient
    from tests.mqtt_broker import broker as broker  # pytest fixture
    from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture

    def test_x(broker):                      # started; stopped at teardown, even on failure
        with ProbeClient(broker, "pad-1") as pad: ...

    def test_y(mqtt_broker):                 # factory: any number of brokers, any options
        b = mqtt_broker(acl=[Identity("b1", "pad-1", Role.COUNTER)], persistence=False)

For one broker per module, use ``module_mqtt_broker`` (same factory, module scope).
Certificates are EC P-256, made with the ``openssl`` command; one CA per test session.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import ctypes
import hashlib
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, overload

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from sim.pki import Authority
from sync import acl as acl_gen
from sync.acl import Identity

MOSQUITTO = (
    os.environ.get("COUNTERSIDE_MOSQUITTO") or shutil.which("mosquitto") or "/usr/sbin/mosquitto"
)
HOST = "127.0.0.1"

_RUNNING = re.compile(r"mosquitto version \S+ running")


class BrokerError(RuntimeError):
    """The broker could not be started or did not do what was asked; carries its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class CertAuthority(Authority):
    """A test CA in ``directory`` (``sim.pki.Authority``, under the names the tests use):
    server and client certificates signed by it, cached by name."""

    def __init__(self, directory: Path, *, name: str = "counterside test CA") -> None:
        super().__init__(directory, name)
        self.directory = directory

    @property
    def ca_path(self) -> Path:
        return self.ca

    def server_cert(self) -> tuple[Path, Path]:
        """(cert, key) for the broker: CN=localhost, SAN localhost and 127.0.0.1."""
        return self.server()

    def client_cert(self, name: str, *, expired: bool = False) -> tuple[Path, Path]:
        """(cert, key) with CN=``name`` for a client; ``expired`` gives one that has expired."""
        return self.client(name, expired=expired)


def mosquitto_password_hash(password: str) -> str:
    """Mosquitto 2.0's ``$7$`` hash (PBKDF2-SHA512, 101 rounds), as ``mosquitto_passwd`` writes."""
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, 101)
    return f"$7$101${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


_LIVE: set[MosquittoBroker] = set()


@atexit.register
def _kill_leftovers() -> None:
    for b in list(_LIVE):
        b.kill()


def _libc_prctl() -> Callable[[], None] | None:
    """In the child: die with the parent (PR_SET_PDEATHSIG), so a killed pytest leaves none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None

    def child() -> None:
        prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG

    return child


_PRCTL = _libc_prctl()


class MosquittoBroker:
    """One Mosquitto process with a TLS listener (client certs required, CN = username) and a
    password listener, both on 127.0.0.1 and free ports chosen once (kept across restarts).

    ``acl`` is a roster for ``sync.acl``; None means no ACL (every authenticated client may do
    anything). ``message_size_limit`` is the payload limit (0 = none); the packet limit is set
    ``PACKET_HEADROOM_BYTES`` above it, as in production. ``extra_config`` is appended (bridges).
    ``tls_files`` replaces the test CA's files on the TLS listener (CA, server cert, CRL).
    """

    def __init__(
        self,
        workdir: Path,
        *,
        tls: bool = True,
        password_listener: bool = True,
        acl: Sequence[Identity] | None = None,
        persistence: bool = True,
        max_queued_messages: int = 1000,
        max_inflight: int = 20,
        message_size_limit: int = 256 * 1024,
        ca: CertAuthority | None = None,
        allow_anonymous: bool = False,
        username_as_clientid: bool = True,
        autosave_interval: int | None = None,
        extra_config: str = "",
        tls_files: acl_gen.TlsFiles | None = None,
    ) -> None:
        if not (tls or password_listener):
            raise ValueError("a broker needs the TLS listener, the password listener or both")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.ca = ca if ca is not None else CertAuthority(workdir / "ca")
        self.host = HOST
        self.tls, self.password_listener = tls, password_listener
        self.acl: list[Identity] | None = None if acl is None else list(acl)
        self.persistence, self.autosave_interval = persistence, autosave_interval
        self.max_queued_messages, self.max_inflight = max_queued_messages, max_inflight
        self.message_size_limit = message_size_limit
        self.allow_anonymous, self.username_as_clientid = allow_anonymous, username_as_clientid
        self.extra_config, self.tls_files = extra_config, tls_files
        self.config_path = workdir / "mosquitto.conf"
        self.acl_path = workdir / "acl"
        self.password_path = workdir / "passwd"
        self.log_path = workdir / "mosquitto.log"
        self.output_path = workdir / "mosquitto.out"
        self.db_path = workdir / "mosquitto.db"
        self._users: dict[str, str] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._ever_started = False
        self._ports = (free_port() if password_listener else 0, free_port() if tls else 0)

    # -- addresses and credentials

    @property
    def port(self) -> int:
        """Port of the password listener (no TLS)."""
        if not self.password_listener:
            raise BrokerError("this broker has no password listener")
        return self._ports[0]

    @property
    def tls_port(self) -> int:
        """Port of the TLS listener (client certificate required)."""
        if not self.tls:
            raise BrokerError("this broker has no TLS listener")
        return self._ports[1]

    @property
    def ca_path(self) -> Path:
        """The CA certificate that signs the broker's and every client's certificate."""
        return self.tls_files.cafile if self.tls_files is not None else self.ca.ca_path

    def client_cert(self, name: str) -> tuple[Path, Path]:
        """(cert, key) for a client with CN=``name``, signed by this broker's CA; cached."""
        return self.ca.client_cert(name)

    def add_user(self, name: str, password: str) -> None:
        """Let ``name`` log in on the password listener (reloads a running broker)."""
        if not name or ":" in name:
            raise ValueError(f"user name {name!r}: must be non-empty without ':'")
        self._users[name] = mosquitto_password_hash(password)
        self._write_password_file()
        if self.running:
            self.reload()

    def set_acl(self, roster: Sequence[Identity] | None) -> None:
        """Replace the roster (None = no ACL needs a restart); reloads a running broker."""
        if (roster is None) != (self.acl is None) and self.running:
            raise BrokerError("switching the ACL on or off needs restart(), not a reload")
        self.acl = None if roster is None else list(roster)
        self._write_acl()
        if self.running:
            self.reload()

    # -- process

    @property
    def running(self) -> bool:
        """True while the broker process is alive."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._proc.pid if self.running and self._proc else None

    def start(self, timeout: float = 10) -> None:
        """Start and wait until the broker accepts connections; on failure raise with its log."""
        if self.running:
            raise BrokerError("broker already running")
        for attempt in range(3):
            try:
                self._start_once(timeout)
                self._ever_started = True
                return
            except BrokerError as exc:
                in_use = "Address already in use" in str(exc)
                if self._ever_started or not in_use or attempt == 2:
                    raise
                password, tls = self._ports
                self._ports = (free_port() if password else 0, free_port() if tls else 0)

    def _start_once(self, timeout: float) -> None:
        self._write_files()
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        out_offset = self.output_path.stat().st_size if self.output_path.exists() else 0
        preexec = _PRCTL if threading.current_thread() is threading.main_thread() else None
        with open(self.output_path, "ab") as out:
            self._proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                preexec_fn=preexec,
            )
        _LIVE.add(self)
        deadline = time.monotonic() + timeout
        port = self._ports[0] or self._ports[1]
        while True:
            if self._proc.poll() is not None:
                self._reap()
                raise BrokerError(
                    f"mosquitto exited with {self._proc.returncode} at start:\n"
                    + self._read_from(log_offset, out_offset)
                )
            if _RUNNING.search(self._read_from(log_offset, out_offset)) and _accepts(port):
                return
            if time.monotonic() > deadline:
                self.kill()
                raise BrokerError(
                    f"mosquitto not ready in {timeout} s:\n"
                    + self._read_from(log_offset, out_offset)
                )
            time.sleep(0.01)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (the broker saves its persistence file) and wait; SIGKILL if it hangs."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reap()

    def kill(self) -> None:
        """SIGKILL, as a crash: nothing is saved."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._reap()

    def restart(self, *, kill: bool = False, timeout: float = 10) -> None:
        """Stop (or kill) and start again on the same ports with the same persistence file."""
        if kill:
            self.kill()
        else:
            self.stop()
        self.start(timeout)

    def reload(self, timeout: float = 10) -> None:
        """SIGHUP: re-read ACL, password file and CRL. Returns once the broker logs the reload;
        it is single-threaded, so whatever a client sends after that is judged by the new files.
        """
        if not self.running or self._proc is None:
            raise BrokerError("broker not running")
        before = self.log_text().count("Reloading config.")
        self._proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while self.log_text().count("Reloading config.") <= before:
            if time.monotonic() > deadline or not self.running:
                raise BrokerError("broker did not reload:\n" + self.log_text())
            time.sleep(0.01)

    def log_mark(self) -> int:
        """Where the log file ends now, to pass as ``since`` to ``wait_for_log``."""
        return len(self._read_from(0, None))

    def wait_for_log(self, text: str, *, since: int = 0, timeout: float = 5) -> str:
        """Wait until ``text`` is in the log file after ``since``; return the log from there."""
        deadline = time.monotonic() + timeout
        while text not in (tail := self._read_from(0, None)[since:]):
            if time.monotonic() > deadline:
                raise BrokerError(f"{text!r} not logged within {timeout} s:\n{tail}")
            time.sleep(0.01)
        return tail

    def _reap(self) -> None:
        _LIVE.discard(self)

    def log_text(self) -> str:
        """Everything the broker logged (its log file, then its stdout/stderr)."""
        return self._read_from(0, 0)

    def _read_from(self, log_offset: int, out_offset: int | None) -> str:
        """The log file from ``log_offset``, then stdout/stderr from ``out_offset`` (None: not)."""
        parts = []
        for path, offset in ((self.log_path, log_offset), (self.output_path, out_offset)):
            if offset is None:
                continue
            with contextlib.suppress(FileNotFoundError), open(path, "rb") as f:
                f.seek(offset)
                parts.append(f.read().decode("utf-8", "replace"))
        return "".join(parts)

    # -- files

    def _write_files(self) -> None:
        self._write_password_file()
        self._write_acl()
        self.config_path.write_text(self.config_text(), encoding="utf-8")

    def _write_password_file(self) -> None:
        text = "".join(f"{u}:{h}\n" for u, h in self._users.items())
        self.password_path.write_text(text, encoding="utf-8")

    def _write_acl(self) -> None:
        if self.acl is not None:
            self.acl_path.write_text(acl_gen.acl_text(self.acl, source="test roster"), "utf-8")

    def config_text(self) -> str:
        """The mosquitto.conf this broker runs with."""
        lines = [
            "# written by tests/mqtt_broker.py",
            f"user {pwd.getpwuid(os.geteuid()).pw_name}",
            f"log_dest file {self.log_path}",
            "log_type all",
            "connection_messages true",
            f"persistence {str(self.persistence).lower()}",
            f"persistence_location {self.workdir}/",
            f"persistence_file {self.db_path.name}",
            f"max_queued_messages {self.max_queued_messages}",
            f"max_inflight_messages {self.max_inflight}",
        ]
        if self.autosave_interval is not None:
            lines.append(f"autosave_interval {self.autosave_interval}")
        text = "\n".join(lines) + "\n"
        text += acl_gen.security_config(
            acl_file=self.acl_path if self.acl is not None else None,
            password_file=self.password_path if self.password_listener else None,
            allow_anonymous=self.allow_anonymous,
            message_size_limit=self.message_size_limit,
        )
        if self.password_listener:
            text += acl_gen.password_listener(
                self._ports[0], bind=HOST, username_as_clientid=self.username_as_clientid
            )
        if self.tls:
            files = self.tls_files
            if files is None:
                files = acl_gen.TlsFiles(self.ca_path, *self.ca.server_cert())
            text += acl_gen.tls_listener(
                self._ports[1], files, bind=HOST, username_as_clientid=self.username_as_clientid
            )
        return text + self.extra_config

    # -- clients

    def paho_client(
        self,
        name: str,
        *,
        tls: bool = True,
        password: str | None = None,
        client_id: str | None = None,
        cert: tuple[Path, Path] | None = None,
        with_cert: bool = True,
        **kwargs: Any,
    ) -> mqtt.Client:
        """A paho-mqtt client (API v2, MQTT v5) set up for this broker, not yet connected.

        TLS: certificate ``cert``, else CN=``name`` (none if ``with_cert`` is false); connect to
        ``tls_port``. Otherwise username ``name`` with ``password``; connect to ``port``.
        """
        kwargs.setdefault("protocol", mqtt.MQTTv5)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id or name, **kwargs)
        if tls and not with_cert:
            client.tls_set(ca_certs=str(self.ca_path))
        elif tls:
            certfile, keyfile = cert if cert is not None else self.client_cert(name)
            client.tls_set(ca_certs=str(self.ca_path), certfile=str(certfile), keyfile=str(keyfile))
        else:
            client.username_pw_set(name, password)
        return client

    def address(self, *, tls: bool = True) -> tuple[str, int]:
        """(host, port) of the TLS or the password listener."""
        return (self.host, self.tls_port if tls else self.port)

    def __repr__(self) -> str:
        return f"<MosquittoBroker {self.workdir} ports={self._ports} running={self.running}>"


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


# -- a test client that records what the broker answers


@dataclass(frozen=True)
class ConnectOutcome:
    """How a connection attempt ended: connected, or why not."""

    connected: bool
    reason: str


class ConnectionLost(RuntimeError):
    """The broker (or paho) closed the connection while we waited for an answer."""


class ProbeClient:
    """A paho-mqtt 2.x client (MQTT v5) with its network thread, recording CONNACK, PUBACK and
    SUBACK reason codes and every message; blocking helpers with timeouts. No auto-reconnect.
    """

    def __init__(
        self,
        broker: MosquittoBroker,
        name: str,
        *,
        tls: bool = True,
        password: str | None = None,
        cert: tuple[Path, Path] | None = None,
        with_cert: bool = True,
        client_id: str | None = None,
        will: tuple[str, bytes, int, bool] | None = None,
        clean_start: bool = True,
    ) -> None:
        self.broker, self.name = broker, name
        self.host, self.port = broker.address(tls=tls)
        self.client = broker.paho_client(
            name, tls=tls, password=password, cert=cert, with_cert=with_cert,
            client_id=client_id, reconnect_on_failure=False,
        )  # fmt: skip
        self.clean_start = clean_start
        if will is not None:
            topic, payload, qos, retain = will
            self.client.will_set(topic, payload, qos=qos, retain=retain)
        self._cv = threading.Condition()
        self.connack: int | None = None
        self.disconnect_reason: str | None = None
        self.pubacks: dict[int, int] = {}
        self.subacks: dict[int, list[int]] = {}
        self.messages: list[mqtt.MQTTMessage] = []
        c = self.client
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_subscribe = self._on_subscribe
        c.on_message = self._on_message

    def _notify(self, update: Callable[[], None]) -> None:
        with self._cv:
            update()
            self._cv.notify_all()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._notify(lambda: setattr(self, "connack", int(rc.value)))

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self._notify(lambda: setattr(self, "disconnect_reason", str(rc)))

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        self._notify(lambda: self.pubacks.__setitem__(mid, int(rc.value)))

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, rcs: Any, _p: Any) -> None:
        self._notify(lambda: self.subacks.__setitem__(mid, [int(r.value) for r in rcs]))

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self._notify(lambda: self.messages.append(msg))

    def _wait(self, done: Callable[[], bool], timeout: float, what: str) -> None:
        with self._cv:
            if not self._cv.wait_for(lambda: done() or self.disconnect_reason is not None, timeout):
                raise TimeoutError(f"{self.name}: no {what} within {timeout} s")
            if not done():
                raise ConnectionLost(f"{self.name}: disconnected ({self.disconnect_reason})")

    def try_connect(self, timeout: float = 5) -> ConnectOutcome:
        """Connect and wait for the CONNACK; report failure instead of raising."""
        try:
            self.client.connect(self.host, self.port, clean_start=self.clean_start)
        except (OSError, ssl.SSLError) as exc:
            return ConnectOutcome(False, f"{type(exc).__name__}: {exc}")
        self.client.loop_start()
        with self._cv:
            self._cv.wait_for(
                lambda: self.connack is not None or self.disconnect_reason is not None, timeout
            )
            if self.connack == 0 and self.disconnect_reason is None:
                return ConnectOutcome(True, "Success")
            if self.connack is not None:
                return ConnectOutcome(False, f"CONNACK reason {self.connack:#04x}")
            if self.disconnect_reason is not None:
                return ConnectOutcome(False, f"disconnected: {self.disconnect_reason}")
        return ConnectOutcome(False, f"no CONNACK within {timeout} s")

    def connect(self, timeout: float = 5) -> ProbeClient:
        """Connect or raise ConnectionLost with the reason."""
        outcome = self.try_connect(timeout)
        if not outcome.connected:
            self.close()
            raise ConnectionLost(f"{self.name} could not connect: {outcome.reason}")
        return self

    @overload
    def publish(
        self, topic: str, payload: bytes | str, *, qos: Literal[1, 2] = 1, retain: bool = False,
        timeout: float = 5,
    ) -> int: ...  # fmt: skip
    @overload
    def publish(
        self, topic: str, payload: bytes | str, *, qos: Literal[0], retain: bool = False,
        timeout: float = 5,
    ) -> None: ...  # fmt: skip
    @overload
    def publish(
        self, topic: str, payload: bytes | str, *, qos: int, retain: bool = False,
        timeout: float = 5,
    ) -> int | None: ...  # fmt: skip
    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False,
        timeout: float = 5,
    ) -> int | None:  # fmt: skip
        """Publish; for QoS 1/2 wait for the PUBACK/PUBREC and return its reason code."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise ConnectionLost(f"{self.name}: publish failed: {mqtt.error_string(info.rc)}")
        if qos == 0:
            info.wait_for_publish(timeout)
            return None
        self._wait(lambda: info.mid in self.pubacks, timeout, f"PUBACK for {topic}")
        return self.pubacks[info.mid]

    def subscribe(self, topic_filter: str, *, qos: int = 1, timeout: float = 5) -> list[int]:
        """Subscribe and return the SUBACK reason codes (granted QoS, or >= 0x80 refused)."""
        rc, mid = self.client.subscribe(topic_filter, qos)
        if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionLost(f"{self.name}: subscribe failed: {mqtt.error_string(rc)}")
        self._wait(lambda: mid in self.subacks, timeout, f"SUBACK for {topic_filter}")
        return self.subacks[mid]

    def wait_for_message(
        self, match: Callable[[mqtt.MQTTMessage], bool] | str, timeout: float = 5
    ) -> mqtt.MQTTMessage:
        """The first received message on topic ``match`` (or satisfying it); waits for it."""
        test = (lambda m: m.topic == match) if isinstance(match, str) else match
        found: list[mqtt.MQTTMessage] = []

        def done() -> bool:
            found[:] = [m for m in self.messages if test(m)]
            return bool(found)

        self._wait(done, timeout, f"message matching {match!r}")
        return found[0]

    def received(self, topic: str | None = None) -> list[mqtt.MQTTMessage]:
        """A copy of the messages received so far (on ``topic``)."""
        with self._cv:
            return [m for m in self.messages if topic is None or m.topic == topic]

    def wait_disconnected(self, timeout: float = 5) -> str:
        """Wait until the connection is gone; return the reason paho gave."""
        with self._cv:
            if not self._cv.wait_for(lambda: self.disconnect_reason is not None, timeout):
                raise TimeoutError(f"{self.name}: still connected after {timeout} s")
            return str(self.disconnect_reason)

    def drop(self) -> None:
        """Cut the connection without DISCONNECT, as a device losing power (the will fires)."""
        sock = self.client.socket()
        if isinstance(sock, socket.socket):  # TLS sockets are ones too
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.wait_disconnected()
        self.client.loop_stop()

    def close(self) -> None:
        """Disconnect cleanly (if connected) and stop the network thread."""
        with contextlib.suppress(Exception):
            if self.disconnect_reason is None and self.connack == 0:
                self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> ProbeClient:
        return self.connect()

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- pytest fixtures (they use only pytest's own fixtures, so importing them is enough)

_SESSION_CAS: dict[Path, CertAuthority] = {}


def session_ca(tmp_path_factory: pytest.TempPathFactory) -> CertAuthority:
    """The test session's CA (made once, in pytest's base temp directory)."""
    base = tmp_path_factory.getbasetemp()
    if base not in _SESSION_CAS:
        _SESSION_CAS[base] = CertAuthority(base / "mqtt-ca")
    return _SESSION_CAS[base]


@contextlib.contextmanager
def running_broker(workdir: Path, **options: Any) -> Iterator[MosquittoBroker]:
    """A started broker, stopped (killed if need be) when the block ends, even on error."""
    b = MosquittoBroker(workdir, **options)
    try:
        b.start()
        yield b
    finally:
        b.stop()


@contextlib.contextmanager
def _factory(
    directory: Callable[[], Path], ca: CertAuthority
) -> Iterator[Callable[..., MosquittoBroker]]:
    brokers: list[MosquittoBroker] = []

    def make(*, start: bool = True, **options: Any) -> MosquittoBroker:
        options.setdefault("ca", ca)
        b = MosquittoBroker(directory(), **options)
        brokers.append(b)
        if start:
            b.start()
        return b

    try:
        yield make
    finally:
        for b in brokers:
            b.stop()


@pytest.fixture
def mqtt_broker(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., MosquittoBroker]]:
    """Factory ``mqtt_broker(start=True, **MosquittoBroker options)``; all stopped at teardown."""
    count = iter(range(1_000))
    with _factory(lambda: tmp_path / f"broker{next(count)}", session_ca(tmp_path_factory)) as f:
        yield f


@pytest.fixture(scope="module")
def module_mqtt_broker(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., MosquittoBroker]]:
    """Like ``mqtt_broker`` but module-scoped: one broker shared by a module's tests."""
    with _factory(lambda: tmp_path_factory.mktemp("broker"), session_ca(tmp_path_factory)) as f:
        yield f


@pytest.fixture
def broker(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """A started broker with both listeners and no ACL; stopped at teardown."""
    with running_broker(tmp_path / "broker", ca=session_ca(tmp_path_factory)) as b:
        yield b
