"""A device's one MQTT link and everything on it, built from ``[mqtt]`` and the device's roles.

* the connection, with the retained online/offline status and its last will;
* the uplink, draining the store's outbox to the centre (released on the centre's acks);
* heartbeats, one stored event a minute, for 开机率;
* retention, if ``keep_acked_days`` is set: acknowledged events that old deleted once a day;
* the configuration downlink, whose applied version takes effect on the next start;
* with the ``controller`` role, the branch queue service (it owns the branch's tickets);
* for counters, kiosks and boards, a :class:`~sync.queue_client.RemoteQueue` that asks it.

One connection per process: the broker ties the connection to the device's certificate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from queue import SimpleQueue
from typing import Protocol

from config.model import Config
from device.heartbeat import HeartbeatThread
from device.queue_service import QueueService
from device.retention import RetentionThread
from device.store import EventStore
from domain.clock import Clock
from sync import queue_protocol as qp
from sync import topics
from sync.config_downlink import ConfigDownlink
from sync.connection import DeviceConnection
from sync.queue_client import RemoteQueue
from sync.settings import ConnectionSettings, TlsSettings, UplinkSettings
from sync.uplink import Uplink

log = logging.getLogger(__name__)


class _Part(Protocol):
    """A part of the link that runs beside the connection."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


@dataclass
class Link:
    connection: DeviceConnection
    uplink: Uplink
    heartbeat: HeartbeatThread
    downlink: ConfigDownlink
    retention: RetentionThread | None = None
    service: QueueService | None = None
    queue: RemoteQueue | None = None
    _stops: list[Callable[[], None]] = field(default_factory=list)

    calls: SimpleQueue = field(default_factory=SimpleQueue)
    """``(ticket, counter)`` of each call published by the queue service, for boards."""

    def watch_calls(self, wake: Callable[[], None] | None = None) -> None:
        """Hear the branch's calls (``queue/calls``): a board shows and speaks them. ``wake``
        is called after each call is put in :attr:`calls` (to wake the app's main loop)."""
        branch = self.connection.branch

        def on_call(message) -> None:
            try:
                call = qp.parse_call(message.payload)
            except Exception as exc:  # a bad message is logged and dropped, never fatal
                log.warning("call message dropped: %s", exc)
                return
            self.calls.put((call.ticket, call.counter))
            if wake is not None:
                wake()

        self.connection.subscribe(topics.queue_calls(branch), on_call)

    def notify(self, _event=None) -> None:
        """A new event is in the store: the uplink sends it without waiting for its poll."""
        self.uplink.notify()

    def stop(self) -> None:
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception:  # stopping goes on whatever one part does
                log.exception("stopping %r failed", stop)


def connection_settings(config: Config) -> ConnectionSettings:
    mqtt = config.mqtt
    files = mqtt.tls_files()
    tls = None
    if files:
        ca, cert, key = files
        tls = TlsSettings(Path(ca), Path(cert), Path(key))
    return ConnectionSettings(**mqtt.connection_kwargs(config.device.device_id), tls=tls)


def open_link(
    config: Config,
    *,
    db: Path,
    clock: Clock,
    base_files: Sequence[str | Path],
    state_dir: Path,
    counters: Sequence[int] = (),
    client: bool = True,
    on_config: Callable[[Config, int], None] | None = None,
) -> Link | None:
    """Start the link if ``[mqtt] enabled``; ``None`` for a stand-alone device.

    With the ``controller`` role the queue service runs here: one process per device holds the
    link (the broker allows one connection per certificate). ``client`` adds the remote queue
    that this process's panels use, also on the controller itself.
    """
    if not config.mqtt.enabled:
        return None
    branch, device = config.device.branch_id, config.device.device_id
    boot = getattr(clock.now(), "boot", "")
    connection = DeviceConnection(connection_settings(config), branch, device, boot_id=boot)
    uplink = Uplink(
        connection,
        lambda: EventStore(db, device, durable=False),  # reads, and acks without an fsync
        branch,
        device,
        UplinkSettings(**config.mqtt.uplink_kwargs()),
    )
    heartbeat = HeartbeatThread(
        db, device, clock, check_s=config.mqtt.heartbeat_s, on_beat=lambda _e: uplink.notify()
    )
    downlink = ConfigDownlink(
        connection, branch, device, list(base_files), state_dir, on_config or _log_applied
    )
    keep = config.mqtt.keep_acked_days
    retention = RetentionThread(db, device, clock, keep) if keep else None
    link = Link(connection, uplink, heartbeat, downlink, retention)
    if "controller" in config.device.roles:
        link.service = QueueService(connection, branch, device, config, db, clock)
    if client:
        link.queue = RemoteQueue(
            connection, branch, device, list(counters), timeout_s=config.mqtt.queue_timeout_s
        )
    parts: list[_Part | None] = [uplink, heartbeat, retention, downlink, link.service, link.queue]
    try:
        for part in parts:
            if part is not None:
                part.start()
                link._stops.append(part.stop)
        connection.start()
        link._stops.insert(0, connection.stop)  # stopped last: the others say goodbye first
    except BaseException:
        link.stop()  # what did start must not run on without an owner
        raise
    return link


def _log_applied(config: Config, version: int) -> None:
    log.warning("configuration version %d applied: it takes effect at the next start", version)
