"""One MQTT connection per process: a paho-mqtt 2.x client (MQTT v5) shared by every part that
talks to the broker (uplink, configuration downlink, queue client; at the centre, the ingest).

- ``start`` uses ``connect_async`` + ``loop_start``: it returns at once, even without network,
  and the paho thread keeps (re)connecting, waiting a jittered exponential backoff in between.
- ``subscribe(topic, handler)`` is remembered and renewed on every connect; handlers run on the
  paho thread and must be quick. ``publish(..., on_done=...)`` reports the broker's PUBACK
  reason code (MQTT v5: >= 0x80 means refused, e.g. 0x87 not authorized).
- ``manual_ack=True``: a QoS 1 message is PUBACKed only when its receiver calls ``ack(message)``,
  from any thread, once the message is safe; until then the broker keeps it, and sends it again
  on the next connection of a persistent session.
- Every callback into user code is guarded: an exception is logged, never allowed to stop the
  network loop.
- The connection's state (:class:`LinkState`) is explicit; listeners hear every change.

:class:`DeviceConnection` adds the device's retained ``status``: a last will saying ``offline``,
``online`` on every connect, and an explicit ``offline`` on a clean ``stop``.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sync import schema, topics
from sync.settings import ConnectionSettings

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


class _QuietStop(logging.Filter):
    """paho 2.2 logs "Client is not connected" at ERROR when its loop thread runs one more
    round after a clean disconnect; that is noise, not a fault."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Client is not connected")


_paho_log = logging.getLogger(f"{__name__}.paho")
_paho_log.addFilter(_QuietStop())


class LinkState(enum.Enum):
    IDLE = "idle"  # created, not started
    CONNECTING = "connecting"  # started, no CONNACK yet (or reconnecting after a loss)
    CONNECTED = "connected"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Message:
    """A message as delivered; ``mid`` and ``session`` (the connection it came on) serve
    :meth:`MqttConnection.ack`."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int = 0
    session: int = 0


@dataclass(frozen=True)
class PublishResult:
    """The broker's answer to one QoS 1 publish: ``code`` is the v5 reason code (0 = success)."""

    mid: int
    code: int
    reason: str

    @property
    def ok(self) -> bool:
        return self.code < 0x80


Handler = Callable[[Message], None]
PahoCallback = Callable[[Any, Any, mqtt.MQTTMessage], None]
ROUTES_KEPT = 100_000
"""Topics whose handlers are remembered (a device's few topics, for every device of a bank)."""
StateListener = Callable[[LinkState], None]
DoneCallback = Callable[[PublishResult], None]


def _subscription_filter(topic: str) -> str:
    """The filter that incoming topics match: ``$share/<group>/<filter>`` delivers ``<filter>``."""
    if topic.startswith("$share/"):
        parts = topic.split("/", 2)
        return parts[2] if len(parts) == 3 else topic
    return topic


def _no_delay(_client: Any, _userdata: Any, sock: Any) -> None:
    """Send each MQTT packet at once (no Nagle): a request written just after a PUBACK would
    otherwise wait for the broker's delayed ACK, some 40 ms on every queue round trip."""
    with contextlib.suppress(OSError, AttributeError):  # not a TCP socket: nothing to tune
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _ssl_context(settings: ConnectionSettings) -> ssl.SSLContext:
    tls = settings.tls
    assert tls is not None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca))
    context.check_hostname = tls.check_hostname
    if tls.cert is not None:
        context.load_cert_chain(str(tls.cert), str(tls.key) if tls.key else None)
    return context


class MqttConnection:
    """A paho client with remembered subscriptions, PUBACK results and guarded callbacks."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        will: tuple[str, bytes] | None = None,
        rng: random.Random | None = None,
        manual_ack: bool = False,
    ) -> None:
        self.settings = settings
        self.manual_ack = manual_ack
        self.name = settings.client_id or "mqtt"
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._state = LinkState.IDLE
        self._handlers: dict[str, tuple[int, Handler]] = {}
        # incoming messages go to the handler of the filter they match: the filters' handlers,
        # and what each topic seen matched (paho's own matching walks a trie per message)
        self._routes: dict[str, PahoCallback] = {}
        self._routed: dict[str, list[PahoCallback]] = {}
        self._listeners: list[StateListener] = []
        self._done: dict[int, DoneCallback] = {}
        self._early: dict[int, PublishResult] = {}
        self._qos0: set[int] = set()  # QoS 0 mids whose send report is still due
        self._retry = settings.reconnect.retry(self._rng)
        self._session = 0  # counts connects and losses: a message is acked on its own connection
        self._connected = threading.Event()
        # subscriptions go out on this connection: set under the lock as they are read on a
        # connect, so a subscribe() racing that connect is sent by one or the other, never lost
        self._live = False
        self._subacks_due: set[int] = set()
        self._subscribed = threading.Condition(self._lock)
        self.connects = 0
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=settings.client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=True,
            manual_ack=manual_ack,
        )
        client.suppress_exceptions = True  # second line of defence behind our own guards
        client.enable_logger(_paho_log)
        client.max_inflight_messages_set(settings.max_inflight_messages)
        client.max_queued_messages_set(0)
        if settings.username is not None:
            client.username_pw_set(settings.username, settings.password)
        if settings.tls is not None:
            client.tls_set_context(_ssl_context(settings))
        if will is not None:
            client.will_set(will[0], will[1], qos=1, retain=True)
        client.on_socket_open = _no_delay
        client.on_connect = self._guard(self._on_connect)
        client.on_connect_fail = self._guard(self._on_connect_fail)
        client.on_disconnect = self._guard(self._on_disconnect)
        client.on_publish = self._guard(self._on_publish)
        client.on_subscribe = self._guard(self._on_subscribe)
        client.on_message = self._guard(self._route)
        self._client = client
        self._delay_next()

    # --- guarded callbacks ---------------------------------------------------------------------

    def _guard(self, fn: F) -> F:
        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                log.exception("%s: callback %s failed", self.name, getattr(fn, "__name__", fn))
                return None

        return cast(F, guarded)  # fn's signature (None where fn raised, which paho ignores)

    def _set_state(self, state: LinkState) -> None:
        with self._lock:
            if self._state is state or self._state is LinkState.STOPPED:
                return
            self._state = state
            listeners = list(self._listeners)
            self._subscribed.notify_all()
        if state is LinkState.CONNECTED:
            self._connected.set()
        else:
            self._connected.clear()
        for listener in listeners:
            try:
                listener(state)
            except Exception:
                log.exception("%s: state listener %r failed", self.name, listener)

    def _delay_next(self) -> None:
        """Let paho wait our jittered delay before its next attempt (min = max = that delay)."""
        delay = self._retry.next_delay()
        # paho annotates the delays int; it only compares and sleeps with them, so a float works
        self._client.reconnect_delay_set(delay, delay)  # type: ignore[arg-type]

    def _on_connect(self, client, userdata, flags, reason_code: ReasonCode, properties) -> None:
        if reason_code.is_failure:
            log.warning("%s: broker refused the connection: %s", self.name, reason_code)
            self._delay_next()
            return
        log.info("%s: connected (session present: %s)", self.name, flags.session_present)
        self._retry.reset()
        self._delay_next()
        self.connects += 1
        with self._lock:
            self._session += 1
            self._live = True
            self._subacks_due.clear()
            subscriptions = [(topic, qos) for topic, (qos, _) in self._handlers.items()]
            if subscriptions:
                self._send_subscribe(subscriptions)
        self._on_connected()
        self._set_state(LinkState.CONNECTED)

    def _on_connected(self) -> None:
        """Hook for subclasses: runs on each connect, after the subscriptions went out."""

    def _on_connect_fail(self, client, userdata) -> None:
        log.info("%s: cannot reach the broker; retrying", self.name)
        self._delay_next()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            self._session += 1  # what came on the lost connection is not acked on the next one
            self._live = False
        if self._state is not LinkState.STOPPED:
            log.warning("%s: disconnected: %s", self.name, reason_code)
            self._delay_next()
            self._set_state(LinkState.CONNECTING)

    def _on_publish(self, client, userdata, mid: int, reason_code, properties) -> None:
        code = getattr(reason_code, "value", 0)
        result = PublishResult(mid, code, str(reason_code))
        with self._lock:
            if mid in self._qos0:  # paho reports QoS 0 sends too: no PUBACK, nothing to report
                self._qos0.discard(mid)
                return
            callback = self._done.pop(mid, None)
            if callback is None:
                self._early[mid] = result  # the PUBACK overtook publish() registering the mid
                return
        callback(result)

    def _send_subscribe(self, subscriptions: list[tuple[str, int]]) -> None:
        """Send a SUBSCRIBE and note its SUBACK due (under the lock, so the SUBACK, handled
        under it too, cannot come first)."""
        rc, mid = self._client.subscribe(subscriptions)
        if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and mid is not None:
            self._subacks_due.add(mid)

    def _on_subscribe(self, client, userdata, mid: int, reason_codes, properties) -> None:
        with self._lock:
            self._subacks_due.discard(mid)
            self._subscribed.notify_all()
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            log.error("%s: the broker refused a subscription (mid %d): %s", self.name, mid,
                      ", ".join(refused))  # fmt: skip

    def _route(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        """Hand a message to the handlers of the filters its topic matches (paho thread)."""
        topic = message.topic
        with self._lock:
            handlers = self._routed.get(topic)
            if handlers is None:
                handlers = [h for f, h in self._routes.items() if mqtt.topic_matches_sub(f, topic)]
                if len(self._routed) >= ROUTES_KEPT:
                    self._routed.clear()
                self._routed[topic] = handlers
        for handler in handlers:
            handler(client, userdata, message)
        if not handlers:
            self._guard(self._on_unhandled)(client, userdata, message)

    def _on_unhandled(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        log.debug("%s: message on %s without a handler", self.name, message.topic)
        if self.manual_ack and message.qos:
            client.ack(message.mid, message.qos)  # nobody will: do not hold the broker's window

    # --- public API ----------------------------------------------------------------------------

    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is LinkState.CONNECTED

    def add_state_listener(self, listener: StateListener) -> None:
        """``listener(state)`` on every change of state (on the paho thread or in stop)."""
        with self._lock:
            self._listeners.append(listener)

    def subscribe(self, topic: str, handler: Handler, qos: int = 1) -> None:
        """Deliver messages matching ``topic`` to ``handler(Message)``, now and after reconnects."""
        guarded = self._guard(handler)

        def on_message(client, userdata, msg: mqtt.MQTTMessage) -> None:
            message = Message(
                msg.topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid, self._session
            )
            guarded(message)

        with self._lock:
            self._handlers[topic] = (qos, handler)
            self._routes[_subscription_filter(topic)] = on_message
            self._routed.clear()
            if self._live:  # else the next connect sends it with the others
                self._send_subscribe([(topic, qos)])

    def wait_subscribed(self, timeout: float) -> bool:
        """Wait until connected with every subscription so far acknowledged by the broker (from
        then on, a message published to them reaches their handlers); False on timeout."""
        with self._subscribed:
            return self._subscribed.wait_for(
                lambda: self._live and not self._subacks_due and self.connected, timeout
            )

    def ack(self, message: Message) -> bool:
        """PUBACK a message taken with ``manual_ack`` (any thread): the broker may now forget it.

        Only on the connection it came on: after a reconnect the broker sends it again with the
        same packet id, and a late PUBACK could then release whichever message reuses that id.
        Returns whether the acknowledgement went out (QoS 0 and automatic acks: nothing to do).
        """
        if not self.manual_ack or message.qos == 0:
            return True
        with self._lock:
            if message.session != self._session or not self.connected:
                return False  # it comes again on the next connection and is handled again
            rc = self._client.ack(message.mid, message.qos)
        return rc == MQTTErrorCode.MQTT_ERR_SUCCESS

    def unsubscribe(self, topic: str) -> None:
        with self._lock:
            self._handlers.pop(topic, None)
            self._routes.pop(_subscription_filter(topic), None)
            self._routed.clear()
            if self._live:
                self._client.unsubscribe(topic)

    def publish(
        self,
        topic: str,
        payload: bytes,
        qos: int = 1,
        retain: bool = False,
        on_done: DoneCallback | None = None,
    ) -> int | None:
        """Queue a message; returns its mid, or None if paho refused it outright.

        ``on_done(PublishResult)`` runs on the paho thread when the broker acknowledged it
        (QoS 1: PUBACK with its reason code). While disconnected paho keeps QoS 1 messages and
        sends them after the reconnect.
        """
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            log.warning(
                "%s: publish to %s failed: %s", self.name, topic, mqtt.error_string(info.rc)
            )
            return None
        callback = self._guard(on_done) if on_done is not None else (lambda result: None)
        if qos == 0:
            with self._lock:  # keep the mid out of the PUBACK table (paho reuses mids)
                if self._early.pop(info.mid, None) is None:
                    self._qos0.add(info.mid)
            callback(PublishResult(info.mid, 0, "Success"))
            return info.mid
        with self._lock:
            early = self._early.pop(info.mid, None)
            if early is None:
                self._done[info.mid] = callback
        if early is not None:
            callback(early)
        return info.mid

    def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        with self._lock:
            if self._state is not LinkState.IDLE:
                raise RuntimeError(f"{self.name}: start() on a {self._state.value} connection")
        properties = None
        if self.settings.session_expiry_s > 0 or self.settings.receive_maximum is not None:
            properties = Properties(PacketTypes.CONNECT)
            if self.settings.session_expiry_s > 0:
                properties.SessionExpiryInterval = self.settings.session_expiry_s
            if self.settings.receive_maximum is not None:
                properties.ReceiveMaximum = self.settings.receive_maximum
        self._client.connect_async(
            self.settings.host,
            self.settings.port,
            keepalive=self.settings.keepalive_s,
            clean_start=self.settings.clean_start,
            properties=properties,
        )
        self._set_state(LinkState.CONNECTING)
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def _before_disconnect(self, timeout: float) -> None:
        """Hook for subclasses: last words while still connected."""

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly (the broker discards the will) and stop the paho thread."""
        with self._lock:
            if self._state in (LinkState.IDLE, LinkState.STOPPED):
                self._state = LinkState.STOPPED
                return
        if self.connected:
            try:
                self._before_disconnect(timeout)
            except Exception:
                log.exception("%s: before-disconnect step failed", self.name)
        self._set_state(LinkState.STOPPED)
        self._client.disconnect()
        self._client.loop_stop()


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class DeviceConnection(MqttConnection):
    """The device's connection: client id = device id, retained status with a last will."""

    def __init__(
        self,
        settings: ConnectionSettings,
        branch: str,
        device: str,
        *,
        boot_id: str = "",
        rng: random.Random | None = None,
    ) -> None:
        self.branch = branch
        self.device = device
        self.boot_id = boot_id
        self.status_topic = topics.status(branch, device)
        will = schema.encode_status(schema.Status(device, "offline", reason="connection lost"))
        if not settings.client_id:
            settings = replace(settings, client_id=device)
        super().__init__(settings, will=(self.status_topic, will), rng=rng)

    def _status(self, state: Literal["online", "offline"], reason: str) -> bytes:
        status = schema.Status(self.device, state, now_text(), self.boot_id or None, reason)
        return schema.encode_status(status)

    def _on_connected(self) -> None:
        self.publish(self.status_topic, self._status("online", "connected"), retain=True)

    def _before_disconnect(self, timeout: float) -> None:
        confirmed = threading.Event()
        payload = self._status("offline", "shutdown")
        self.publish(self.status_topic, payload, retain=True, on_done=lambda _: confirmed.set())
        if not confirmed.wait(timeout):
            log.warning("%s: offline status not confirmed within %.1f s", self.name, timeout)
