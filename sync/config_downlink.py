"""Branch configuration from the centre: retained, versioned, validated, applied atomically.

The centre publishes one retained message per branch on ``cs/v1/<branch>/config``::

    {"v": 1, "kind": "config", "version": 7, "issued_at": "2026-11-25T08:00:00+08:00",
     "toml": "<a TOML document like the configuration files>"}

The TOML is laid over the device's own files (``config/defaults.toml``, then ``base_files``), as
one more file. A device applies a version only if it is newer than the one it runs; it validates
the merged configuration with the loader first and keeps the one it has if that fails. Either way
it answers on ``cs/v1/<branch>/config/result/<device>`` (retained)::

    {"v": 1, "kind": "config_result", "device": "w3", "version": 7, "status": "applied",
     "problems": [], "applied_version": 7}

with ``status`` ``refused`` and the loader's ``file: key: message`` lines (the downloaded file is
named ``config v<version>``) when it did not apply it.

Applied means: ``<state_dir>/downlink.toml`` replaced atomically (temporary file, fsync, rename,
fsync of the directory) with the TOML and, on its last line, a comment with the version; then
``on_applied(config, version)``. At start the device loads that file again, so a reboot without
network keeps the last configuration applied. Identity and hardware keys (``[device]`` branch_id,
device_id, roles, counter; ``[hardware]``; ``[printer]``) belong to each device and are refused.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import tomllib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, ClassVar, Final, Literal

import msgspec

from config.errors import ConfigError, Problem
from config.loader import load_config
from config.model import Config
from sync import topics, wire
from sync.connection import Message, MqttConnection
from sync.wire import SchemaError, Text

log = logging.getLogger(__name__)

STATE_FILE = "downlink.toml"
META_PREFIX = "# counterside-downlink "
APPLIED: Final = "applied"
REFUSED: Final = "refused"
LOCAL_ONLY: dict[str, tuple[str, ...] | None] = {
    "device": ("branch_id", "device_id", "roles", "counter"),
    "hardware": None,  # None: the whole table
    "printer": None,
    "mqtt": None,  # a wrong broker or CA from the centre would cut the device off for good
}
"""Keys set on each device, never by the branch configuration."""

OnApplied = Callable[[Config, int], None]


class DownlinkMessage(wire.Message, frozen=True):
    """The centre's retained ``config`` message (``kind`` may be left out)."""

    KIND: ClassVar[str] = "config"
    KIND_OPTIONAL: ClassVar[bool] = True

    version: Annotated[int, msgspec.Meta(ge=1)]
    issued_at: Text
    toml: str

    @property
    def text(self) -> str:
        """The TOML as stored: ending with a newline (unless empty)."""
        return self.toml if not self.toml or self.toml.endswith("\n") else self.toml + "\n"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


@dataclass(frozen=True)
class Applied:
    """What ``downlink.toml`` holds: the version applied last."""

    version: int
    issued_at: str
    digest: str


class DownlinkResult(wire.Message, frozen=True):
    """A device's answer to a ``config`` message, retained on ``config/result/<device>``."""

    KIND: ClassVar[str] = "config_result"

    device: Text
    version: int | None
    status: Literal["applied", "refused"]
    problems: tuple[str, ...] = ()
    applied_version: int | None = None


class _VersionHint(msgspec.Struct):
    version: int


# --- messages ----------------------------------------------------------------------------------


def encode_message(version: int, toml: str, issued_at: str | None = None) -> bytes:
    """The centre's retained ``config`` message."""
    issued = issued_at or datetime.now(UTC).isoformat(timespec="seconds")
    return wire.encode(DownlinkMessage(version, issued, toml))


def parse_message(payload: bytes | str) -> DownlinkMessage:
    """A ``config`` message, or :class:`SchemaError` saying what is wrong with it."""
    return wire.read(payload, DownlinkMessage)


def _version_hint(payload: bytes) -> int | None:
    hint = wire.peek(payload, _VersionHint)
    return None if hint is None else hint.version


def encode_result(result: DownlinkResult) -> bytes:
    return wire.encode(result)


def parse_result(payload: bytes | str) -> DownlinkResult:
    return wire.read(payload, DownlinkResult)


# --- the state file ----------------------------------------------------------------------------


def _meta_line(applied: Applied) -> str:
    meta = {"version": applied.version, "issued_at": applied.issued_at, "sha256": applied.digest}
    return META_PREFIX + json.dumps(meta, ensure_ascii=True) + "\n"


def read_applied(path: Path) -> Applied | None:
    """The version recorded in a state file (its last line), None if absent or damaged."""
    try:
        text = path.read_bytes().decode("utf-8")  # as written: CRLF kept, so the checksum holds
    except FileNotFoundError:
        return None
    lines = text.splitlines(keepends=True)
    if not lines or not lines[-1].startswith(META_PREFIX):
        log.error("%s: no version line at the end; ignoring the file", path)
        return None
    try:
        meta = json.loads(lines[-1][len(META_PREFIX) :])
        applied = Applied(int(meta["version"]), str(meta["issued_at"]), str(meta["sha256"]))
    except (ValueError, KeyError, TypeError):
        log.error("%s: damaged version line; ignoring the file", path)
        return None
    if hashlib.sha256("".join(lines[:-1]).encode()).hexdigest() != applied.digest:
        log.error("%s: content does not match its checksum; ignoring the file", path)
        return None
    return applied


def _write_synced(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:  # bytes as received
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def load_effective(
    base_files: Sequence[str | os.PathLike[str]], state_dir: str | os.PathLike[str]
) -> tuple[Config, Applied | None]:
    """The configuration to start with: the device's files plus the last applied downlink.

    A saved downlink that no longer validates over the files (they changed) is left aside with
    an error in the log: the device starts on its own files and takes the centre's retained
    version again when it connects. Problems with the device's own files raise ConfigError.
    """
    path = Path(state_dir) / STATE_FILE
    applied = read_applied(path)
    if applied is not None:
        try:
            return load_config(*base_files, path), applied
        except ConfigError as err:
            log.error("%s: saved configuration no longer valid, not used:\n%s", path, err)
    return load_config(*base_files), None


# --- the device side ---------------------------------------------------------------------------


def local_only_problems(toml: str, label: str) -> list[Problem]:
    """Keys of LOCAL_ONLY in a downloaded TOML (syntax errors are left to the loader)."""
    try:
        document = tomllib.loads(toml)
    except tomllib.TOMLDecodeError:
        return []
    problems = []
    for table, keys in LOCAL_ONLY.items():
        value = document.get(table)
        if value is None:
            continue
        if keys is None or not isinstance(value, dict):
            problems.append(Problem(label, table, "set on each device, not by the branch"))
            continue
        for key in keys:
            if key in value:
                problems.append(
                    Problem(label, f"{table}.{key}", "set on each device, not by the branch")
                )
    return problems


class ConfigDownlink:
    """Receives the branch configuration for device ``device_id`` and applies it.

    ``config`` and ``applied`` are the current state (the saved downlink is loaded at once).
    ``on_applied(config, version)`` runs on the downlink's own thread after the new file is in
    place; hand the configuration to the application's thread from there.
    """

    def __init__(
        self,
        connection: MqttConnection,
        branch: str,
        device_id: str,
        base_files: Sequence[str | os.PathLike[str]],
        state_dir: str | os.PathLike[str],
        on_applied: OnApplied,
    ) -> None:
        self.connection = connection
        self.branch = topics.check_branch(branch)
        self.device = topics.check_device(device_id)
        self.base_files = [Path(p) for p in base_files]
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / STATE_FILE
        self.on_applied = on_applied
        self.config_topic = topics.config(branch)
        self.result_topic = topics.config_result(branch, device_id)
        self.config, self.applied = load_effective(self.base_files, self.state_dir)
        self.results: deque[DownlinkResult] = deque(maxlen=100)  # the latest, oldest first
        self._refused: tuple[int, str, DownlinkResult] | None = None
        self._cv = threading.Condition()
        self._latest: bytes | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def version(self) -> int | None:
        return self.applied.version if self.applied is not None else None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"config-{self.device}", daemon=True)
        self._thread.start()
        self.connection.subscribe(self.config_topic, self._on_message)

    def stop(self, timeout: float = 10.0) -> None:
        self.connection.unsubscribe(self.config_topic)
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def _on_message(self, message: Message) -> None:
        if not message.payload:
            log.info("%s: branch configuration cleared at the centre; keeping mine", self.device)
            return
        with self._cv:
            self._latest = message.payload  # only the newest matters
            self._cv.notify_all()

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._latest is None and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                payload, self._latest = self._latest, None
            assert payload is not None  # the wait ends with a message or when stopping
            try:
                self.handle(payload)
            except Exception:
                log.exception("%s: configuration message not handled", self.device)

    # --- the decision ----------------------------------------------------------------------

    def handle(self, payload: bytes) -> DownlinkResult:
        """Decide on one ``config`` message, apply it if it is good, publish the result."""
        result = self._decide(payload)
        self.results.append(result)
        self.connection.publish(self.result_topic, encode_result(result), qos=1, retain=True)
        return result

    def _refuse(self, version: int | None, problems: Sequence[Problem | str]) -> DownlinkResult:
        lines = tuple(str(p) for p in problems)
        return DownlinkResult(self.device, version, REFUSED, lines, self.version)

    def _decide(self, payload: bytes) -> DownlinkResult:
        try:
            msg = parse_message(payload)
        except SchemaError as exc:
            return self._refuse(_version_hint(payload), [f"config: {exc.reason}"])
        label, applied = f"config v{msg.version}", self.applied
        if applied is not None and msg.version < applied.version:
            why = f"older than the applied version {applied.version}; roll back as a new version"
            return self._refuse(msg.version, [f"{label}: {why}"])
        if applied is not None and msg.version == applied.version:
            if msg.digest == applied.digest:
                return DownlinkResult(self.device, msg.version, APPLIED, (), applied.version)
            why = "applied before with different content; publish changes as a new version"
            return self._refuse(msg.version, [f"{label}: {why}"])
        if self._refused is not None and self._refused[:2] == (msg.version, msg.digest):
            return self._refused[2]  # the same message again (a reconnect): same answer
        result = self._validate_and_apply(msg, label)
        self._refused = (msg.version, msg.digest, result) if result.status == REFUSED else None
        return result

    def _validate_and_apply(self, msg: DownlinkMessage, label: str) -> DownlinkResult:
        applied = Applied(msg.version, msg.issued_at, msg.digest)
        tmp = self.state_dir / f".{STATE_FILE}.new"
        _write_synced(tmp, msg.text + _meta_line(applied))
        problems = local_only_problems(msg.toml, label)
        try:
            config = load_config(*self.base_files, tmp)
        except ConfigError as err:
            problems += [replace(p, file=label) if p.file == str(tmp) else p for p in err.problems]
        if problems:
            tmp.unlink(missing_ok=True)
            log.warning("%s: %s refused:\n%s", self.device, label, "\n".join(map(str, problems)))
            return self._refuse(msg.version, problems)
        os.replace(tmp, self.path)
        _fsync_dir(self.state_dir)
        sources = tuple(str(self.path) if s == str(tmp) else s for s in config.sources)
        self.config, self.applied = replace(config, sources=sources), applied
        log.info("%s: %s applied", self.device, label)
        try:
            self.on_applied(self.config, msg.version)
        except Exception:
            log.exception("%s: on_applied failed for %s", self.device, label)
        return DownlinkResult(self.device, msg.version, APPLIED, (), msg.version)
