"""``[mqtt]``: the link to the branch broker. Import these names from :mod:`config.model`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from config.declare import (
    Rule,
    Scope,
    option,
)
from config.kinds import INVALID, Boolean, Integer, Number, String
from config.values import (
    ABSOLUTE_PATH,
    host,
)

# -- [mqtt] ---------------------------------------------------------------------------------------

#: The broker's ``message_size_limit`` (= ``sync.topics.MAX_PAYLOAD_BYTES``; config does not
#: import sync, a test keeps the two equal): no batch may be larger.
MQTT_MAX_PAYLOAD_BYTES = 256 * 1024
#: Device ids that are MQTT topic names (= ``sync.topics.RESERVED_DEVICE_IDS``).
MQTT_RESERVED_DEVICE_IDS = ("bridge", "config", "queue")
#: 开机率 (uptime) counts the minutes with a heartbeat (``central.uptime``): at least one a minute.
HEARTBEAT_MAX_S = 60


def _keep_at_least_thirty_days(s: Scope) -> None:
    """``keep_acked_days``: 0 (keep everything) or 30 and more."""
    days = s.values["keep_acked_days"]
    if days is not INVALID and 0 < days < 30:
        s.c.bad(
            (*s.path, "keep_acked_days"), f"must be 0 (keep every event) or at least 30, got {days}"
        )
        s.values["keep_acked_days"] = INVALID


@dataclass(frozen=True)
class MqttConfig:
    """``[mqtt]``; every key may be left out (its default applies): disabled, the device runs
    stand-alone without sync.

    The device's MQTT identity (client id, certificate CN, ACL name) is ``device.device_id``.
    Plain values only: :meth:`connection_kwargs`, :meth:`tls_files` and :meth:`uplink_kwargs`
    spell them as ``sync.settings`` takes them. ``None`` = not given.
    """

    RULES: ClassVar[tuple[Rule, ...]] = (_keep_at_least_thirty_days,)

    enabled: bool = option(Boolean(), False, help="connect to the broker and sync")
    host: str | None = option(
        host('"10.20.0.5" or "mqtt.bank.example"', "mqtt.port", "none"),
        None,
        example="mqtt.branch.example",
        help="required when enabled: the broker; with TLS it must match the broker "
        "certificate's subjectAltName",
    )
    port: int = option(
        Integer(1, 65535),
        8883,
        help="the TLS listener; the password listener is 1883",
    )
    tls: bool = option(
        Boolean(),
        True,
        help="client certificate authentication. `false` (the password listener, needs "
        "`username` and `password`) is only allowed with `host` on this device (`localhost`, "
        "`127.x.x.x`, `::1`): the broker's network listener accepts certificates only, and a "
        "password must not cross the network unencrypted",
    )
    ca: str | None = option(
        ABSOLUTE_PATH,
        None,
        example="/etc/counterside/tls/ca.crt",
        help="required when enabled with `tls = true`: the CA certificate",
    )
    cert: str | None = option(
        ABSOLUTE_PATH,
        None,
        example="/etc/counterside/tls/device.crt",
        help="likewise: this device's certificate (CN = `device.device_id`)",
    )
    key: str | None = option(
        ABSOLUTE_PATH,
        None,
        example="/etc/counterside/tls/device.key",
        help="likewise: this device's private key (mode 600, made on the device)",
    )
    username: str | None = option(
        String(empty="none"),
        None,
        example="",
        help="`tls = false` only (an error with `tls = true`: over TLS the CN is the username)",
    )
    password: str | None = option(
        String(empty="none", secret=True),
        None,
        example="",
        repr=False,
        help="`tls = false` only. Never shown in error messages or the model's `repr`; keep "
        "the file readable by the service user only",
    )
    keepalive_s: int = option(Integer(5, 600), 30, help="the MQTT keepalive interval")
    batch_max_events: int = option(Integer(1, 5000), 200, help="events per uplink message at most")
    batch_max_bytes: int = option(
        Integer(
            1024,
            MQTT_MAX_PAYLOAD_BYTES,
            high_note="256 KiB is the broker's message_size_limit, a larger batch is refused",
        ),
        64 * 1024,
        help="bytes per uplink message at most (the whole payload)",
    )
    max_inflight: int = option(
        Integer(1, 100),
        8,
        help="uplink batches sent but not yet acknowledged by the broker (the broker grants 20, "
        "see `docs/security.md`)",
    )
    queue_timeout_s: float = option(
        Number(0.2, 30),
        2.0,
        help="how long a counter waits for the branch queue service before falling back to "
        "ticketless service",
    )
    heartbeat_s: float = option(
        Number(
            10,
            HEARTBEAT_MAX_S,
            high_note="开机率 (uptime) counts the minutes with a heartbeat, so a device must "
            "beat at least once a minute",
        ),
        60,
        help="the device checks for its heartbeat at these multiples of seconds within each "
        "wall-clock minute (60: once, just after each minute begins); one `device.heartbeat` "
        "event is stored per minute the device is on (`docs/protocol.md`)",
    )

    keep_acked_days: int = option(
        Integer(0, 3650),
        0,
        help="0: the device keeps every event. Otherwise at least 30 (records stay on the "
        "device 30 days): events the centre has acknowledged are deleted once they are this "
        "many days old by the wall clock (checked once a day); events not yet acknowledged are "
        "never deleted. Read `docs/protocol.md` (Retention) before turning it on",
    )

    def connection_kwargs(self, client_id: str) -> dict[str, Any]:
        """Keyword arguments of ``sync.settings.ConnectionSettings``, except ``tls``;
        ``client_id`` is ``device.device_id``."""
        return {
            "host": self.host or "",
            "port": self.port,
            "client_id": client_id,
            "username": self.username,
            "password": self.password,
            "keepalive_s": self.keepalive_s,
        }

    def tls_files(self) -> tuple[str, str, str] | None:
        """``(ca, cert, key)`` for ``sync.settings.TlsSettings``, or ``None`` without TLS."""
        if not self.tls or not (self.ca and self.cert and self.key):
            return None
        return self.ca, self.cert, self.key

    def uplink_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``sync.settings.UplinkSettings`` (the others keep defaults)."""
        return {
            "batch_max_events": self.batch_max_events,
            "batch_max_bytes": self.batch_max_bytes,
            "max_inflight": self.max_inflight,
        }
