"""Settings of an MQTT link (device uplink or central ingest): plain frozen dataclasses.

Times are seconds. Nothing here opens a socket; ``sync.connection`` and ``sync.uplink`` read them.
Every retry waits as a :class:`support.backoff.Backoff` says (re-exported here for the settings).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from support.backoff import Backoff


@dataclass(frozen=True)
class TlsSettings:
    """Server CA, and this client's certificate and key (its identity is the certificate's CN)."""

    ca: Path
    cert: Path | None = None
    key: Path | None = None
    check_hostname: bool = True


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to connect. ``session_expiry_s`` > 0 with ``clean_start=False`` keeps the
    broker-side session (subscriptions and queued messages) across disconnects."""

    host: str
    port: int = 8883
    client_id: str = ""
    tls: TlsSettings | None = None
    username: str | None = None
    password: str | None = None
    keepalive_s: int = 30
    clean_start: bool = True
    session_expiry_s: int = 0
    reconnect: Backoff = field(default_factory=lambda: Backoff(1.0, 60.0, 0.5))
    max_inflight_messages: int = 20
    """paho's own window of unacknowledged QoS 1 messages (above the uplink's own bound)."""
    receive_maximum: int | None = None
    """MQTT v5 Receive Maximum sent when connecting: the QoS 1 messages the broker may have
    delivered to this client and not yet had acknowledged (None: not sent, and the broker keeps
    to its own ``max_inflight_messages``, 20 in Mosquitto's default)."""


@dataclass(frozen=True)
class UplinkSettings:
    """How the outbox is drained.

    - ``batch_max_events`` / ``batch_max_bytes``: one events message holds at most this much.
    - ``max_inflight``: batches published but not yet PUBACKed.
    - ``max_unacked_events``: events published beyond the centre's acknowledgement; the uplink
      waits when this window is full (flow control against an absent centre).
    - ``ack_timeout_s``: without progress of the centre's acknowledgement for this long while
      events are outstanding, publish again from the acknowledged mark (doubling, up to
      ``ack_timeout_max_s``: :attr:`ack_timeouts`).
    - ``refused``: backoff after a batch the broker refused (PUBACK reason code >= 0x80).
    - ``poll_s``: how often the store is read for events appended by other connections.
    """

    batch_max_events: int = 200
    batch_max_bytes: int = 64 * 1024
    max_inflight: int = 8
    max_unacked_events: int = 20_000
    ack_timeout_s: float = 30.0
    ack_timeout_max_s: float = 300.0
    refused: Backoff = field(default_factory=lambda: Backoff(1.0, 60.0, 0.5))
    poll_s: float = 1.0

    def __post_init__(self) -> None:
        if self.batch_max_events < 1 or self.batch_max_bytes < 1024:
            raise ValueError("batch_max_events must be >= 1 and batch_max_bytes >= 1024")
        if self.max_inflight < 1 or self.max_unacked_events < self.batch_max_events:
            raise ValueError("max_inflight must be >= 1, max_unacked_events >= batch_max_events")

    @property
    def ack_timeouts(self) -> Backoff:
        """The acknowledgement timeout as a backoff: ``ack_timeout_s``, doubling after each
        timeout up to ``ack_timeout_max_s`` (never below the first), exact."""
        return Backoff(self.ack_timeout_s, max(self.ack_timeout_s, self.ack_timeout_max_s), 0.0)


@dataclass(frozen=True)
class IngestSettings:
    """The centre's consumer.

    - ``share_group``: subscribe through ``$share/<group>/...`` so that several workers split the
      devices' messages.
    - ``resend_interval_s``: a store's open gap is requested once, then again at this interval
      while it stays open (never more often); ``resend_max_events`` caps one request.
    - ``busy_timeout_s``: how long a write waits for another connection's lock (None:
      ``central.store.BUSY_TIMEOUT_S``); then the message is tried again every ``retry_s``,
      unacknowledged meanwhile.
    - ``max_future_s``: an event whose wall time is further ahead of the centre's clock is put
      aside (quarantine kind ``invalid``).
    - ``group_max_messages``: the most messages stored in one transaction (group commit: the
      ones waiting when the ingest takes the next, acknowledged once all are committed).
    - ``receive_maximum``: the messages the broker may deliver before the ingest acknowledges
      them (MQTT v5 Receive Maximum). The ingest acknowledges a message only once it is
      committed, so this bounds what one commit can take: at the broker's default (20) a live
      stream of one event per message is capped at 20 events per commit.
    - ``alerts_every_s``: how often the alerts that depend on time passing are evaluated and
      changed alert states published again.
    - ``targets_every_s``: how often, among those evaluations, tellers and branches are held
      against the KPI targets over the month so far (read outside the write lock, but a costly
      read over a large bank).
    - ``refused_tries``: a message the database refuses for its data (a constraint, a value it
      cannot hold; not a lock or an outage, which are retried for as long as they last) is tried
      this many times, then its events are stored one by one and the refused one put aside
      with the database's reason, so one message can never stop the ingest of every other.
    """

    share_group: str | None = None
    resend_interval_s: float = 5.0
    resend_max_events: int = 5_000
    busy_timeout_s: float | None = None
    retry_s: float = 1.0
    max_future_s: float = 24 * 3600.0
    alerts_every_s: float = 60.0
    targets_every_s: float = 900.0
    group_max_messages: int = 500
    refused_tries: int = 3
    receive_maximum: int = 1000
