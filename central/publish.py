"""Publish a branch's configuration: the retained ``cs/v1/<branch>/config`` message.

Run as ``counterside centre config publish``, with an identity of its own: a certificate whose CN
has the role ``publisher`` in the roster (``docs/security.md``). Never the ingest's: the broker
ties a client id to one connection, so a second connection with the ingest's certificate would
push the ingest off the broker and, connecting with a clean start, discard its persistent session
(and the messages queued in it).

Before publishing, the TOML is checked as a device would check it (the keys set on each device
are refused, the rest must validate over the shipped defaults), and the version against the one
the broker holds: a version is published once, and a newer one is needed for a change.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

from config.errors import ConfigError
from config.loader import load_config_text
from sync import topics
from sync.config_downlink import encode_message, local_only_problems, parse_message
from sync.connection import Message, MqttConnection, PublishResult
from sync.settings import ConnectionSettings
from sync.wire import MAX_MESSAGE_BYTES, SchemaError


class PublishError(Exception):
    """Why the configuration was not published (one line per problem)."""


@dataclass(frozen=True)
class Published:
    topic: str
    version: int
    already: bool  # the broker held this very version already: nothing was sent


def check_toml(toml: str, label: str) -> list[str]:
    """What a device would refuse in ``toml`` laid over the shipped defaults."""
    problems = [str(p) for p in local_only_problems(toml, label)]
    try:
        load_config_text(toml, label)
    except ConfigError as err:
        problems += [str(p) for p in err.problems]
    return problems


def publish_config(
    settings: ConnectionSettings,
    branch: str,
    version: int,
    toml: str,
    *,
    check: bool = True,
    timeout: float = 10.0,
    retained_wait_s: float = 2.0,
) -> Published:
    """Publish ``toml`` as ``version`` of ``branch``'s configuration, retained, QoS 1."""
    if not topics.is_valid_id(branch):
        raise PublishError(f"branch id {branch!r}: must match [A-Za-z0-9_-]{{1,32}}")
    topic = topics.config(branch)
    if version < 1:
        raise PublishError(f"version must be >= 1, not {version}")
    if check and (problems := check_toml(toml, f"config v{version}")):
        raise PublishError("\n".join(problems))
    payload = encode_message(version, toml)
    if len(payload) > MAX_MESSAGE_BYTES:  # the broker would refuse it, and a device too
        raise PublishError(
            f"the configuration message is too large: {len(payload)} bytes > {MAX_MESSAGE_BYTES}"
        )
    connection = MqttConnection(replace(settings, clean_start=True, session_expiry_s=0))
    current: list[Message] = []
    heard = threading.Event()

    def on_retained(message: Message) -> None:
        if message.payload:
            current.append(message)
        heard.set()

    connection.subscribe(topic, on_retained)
    connection.start()
    try:
        if not connection.wait_connected(timeout):
            raise PublishError(f"cannot reach the broker at {settings.host}:{settings.port}")
        heard.wait(retained_wait_s)  # a retained message comes right after the subscription
        if current:
            if _same_published(current[-1], version, toml):
                return Published(topic, version, already=True)
            _check_newer(current[-1], version)
        done = threading.Event()
        results: list[PublishResult] = []

        def on_done(result: PublishResult) -> None:
            results.append(result)
            done.set()

        connection.publish(topic, payload, 1, True, on_done)
        if not done.wait(timeout):
            raise PublishError(f"no answer from the broker within {timeout:.0f} s")
        if not results[0].ok:
            raise PublishError(
                f"the broker refused to publish on {topic} ({results[0].reason}, "
                f"0x{results[0].code:02x}): does this certificate's CN have the role "
                f"'publisher' in the roster?"
            )
        return Published(topic, version, already=False)
    finally:
        connection.stop()


def _same_published(message: Message, version: int, toml: str) -> bool:
    try:
        held = parse_message(message.payload)
    except SchemaError:
        return False
    return held.version == version and held.text == parse_message(encode_message(1, toml)).text


def _check_newer(message: Message, version: int) -> None:
    try:
        held = parse_message(message.payload)
    except SchemaError:
        return  # what the broker holds is no configuration: replace it
    if version <= held.version:
        raise PublishError(
            f"version {version} is not newer than the published version {held.version}: "
            f"publish a change as version {held.version + 1} (to roll back, publish the old "
            f"content as a new version)"
        )
