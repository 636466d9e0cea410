"""The centre's ingest end to end over MQTT, against a ``mosquitto_sub`` capture of the stream.

A fleet of devices (``bench/fleet.py``: simulated branch mornings, heartbeats included,
re-identified per device, one branch each) publishes its events through one Mosquitto started
here (never the system broker), in two shapes:

- **backlog**: devices that come back with a backlog send it in batches of 200 events;
- **live**: online devices send each event as it happens, one event per message, from 1,000 and
  from 10,000 devices (each device's events in order, the devices interleaved).

Each device first sends its first event alone, untimed (the centre then knows every device, as
in a running bank); then the rest is published as fast as the publishers go: several paho-mqtt
processes, QoS 1, messages encoded before (``sync.schema.encode_batch``), on the broker's
password listener without TLS. The sides, each with a fresh broker, in turns:

- **capture**: ``mosquitto_sub`` (QoS 1) subscribed to ``cs/v1/+/+/events``: the stream as fast as
  the broker, the publishers and a C subscriber on this machine carry it; timed until it has
  received every message;
- **paho**: the centre's MQTT side alone (its connection, manual PUBACKs, a retained QoS 1 ack
  published per message from a second thread), no database: what paho-mqtt in one Python process
  carries, a ceiling for the centre where messages hold one event each;
- **filing**: the centre's store alone on SQLite, in the benchmark's process: the same messages
  read, prepared and filed in groups as the ingest's store thread does, without MQTT;
- **sqlite**, **postgresql**: the centre (``python -m central run``, its own process, persistent
  session, manual PUBACKs after the commit) on a fresh database: transactions, rollups, chain
  checks and alert rules as events are stored; timed until every event is committed (polled from
  the database), then checked: every event once, every store contiguous, every transaction row,
  no chain break, nothing quarantined.

Both subscribers use the broker's TLS listener with client certificates, as the centre does in
production (``--plain``: the password listener). PostgreSQL is a throwaway cluster of Debian's
binaries with ``fsync`` and ``synchronous_commit`` on (SQLite: WAL, ``synchronous=FULL``).

Alert latency: the 10,000-device live stream again, paced at ``--alert-rate`` events a second;
from each message's publish to its alert stored (the database polled every 10 ms), p50 and p99.

Target: at least 20,000 events/s on SQLite in both shapes.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import os
import pickle
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench.fleet import Device, cached_fleet

TARGET = 20_000.0
TIMEOUT_S = 600.0
PUBLISHERS = 3
WINDOW = 20_000  # messages a publisher may have sent and not yet seen PUBACKed
POLL_S = 0.05
ALERT_POLL_S = 0.01
FILTER = "cs/v1/+/+/events"
MAX_WORKERS = 8


@dataclass(frozen=True)
class Shape:
    name: str
    devices: int
    events_each: int  # timed events per device (after the first, sent alone)
    batch: int  # events per message

    @property
    def events(self) -> int:
        return self.devices * self.events_each

    @property
    def messages(self) -> int:
        return self.devices * -(-self.events_each // self.batch)


def shapes(quick: bool) -> list[Shape]:
    scale = 5 if quick else 1
    return [
        Shape("backlog", 200 // scale, 1000, 200),
        Shape("live 1k", 1000, 200 // scale, 1),
        Shape("live 10k", 10_000, 20 // scale, 1),
    ]


# --- the messages -------------------------------------------------------------------------------


def warmup_messages(devices: list[Device]) -> list[tuple[str, bytes]]:
    return [(d.topic, d.message(1, 1)) for d in devices]


def timed_messages(devices: list[Device], shape: Shape) -> list[list[tuple[str, bytes, int]]]:
    """Per publisher: (topic, payload, events) in the order published; each device's messages
    go through one publisher, in order, the devices interleaved."""
    out: list[list[tuple[str, bytes, int]]] = [[] for _ in range(PUBLISHERS)]
    last = shape.events_each + 1
    for first in range(2, last + 1, shape.batch):
        end = min(first + shape.batch - 1, last)
        for i, d in enumerate(devices):
            out[i % PUBLISHERS].append((d.topic, d.message(first, end), end - first + 1))
    return out


# --- the broker ---------------------------------------------------------------------------------


def _broker_class():
    from tests.mqtt_broker import MosquittoBroker  # the shared test broker, not a second copy

    class QuietBroker(MosquittoBroker):
        """Logs no line per message (``log_type all`` would write two per message)."""

        def config_text(self) -> str:
            quiet = "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            return super().config_text().replace("log_type all\n", quiet + "log_type subscribe\n")

    return QuietBroker


def start_broker(workdir: Path, ca):
    from bench.branch_rig import BROKER_EXTRA

    broker = _broker_class()(
        workdir, ca=ca, persistence=False, max_queued_messages=0, extra_config=BROKER_EXTRA
    )
    for i in range(PUBLISHERS):
        broker.add_user(f"pub-{i}", "bench")
    for i in range(MAX_WORKERS):
        broker.add_user(f"centre-{i}", "bench")
    broker.add_user("capture", "bench")
    broker.start()
    return broker


# --- publishers (child processes) ---------------------------------------------------------------


def _packet(kind: int, body: bytes) -> bytes:
    """An MQTT packet: fixed header (type and flags, remaining length) and body."""
    size, length = len(body), bytearray()
    while True:
        size, digit = size >> 7, size & 0x7F
        length.append(digit | (0x80 if size else 0))
        if not size:
            return bytes([kind]) + bytes(length) + body


def _text(value: str) -> bytes:
    raw = value.encode()
    return len(raw).to_bytes(2, "big") + raw


def publish_packet(topic: str, payload: bytes, packet_id: int) -> bytes:
    """An MQTT 3.1.1 PUBLISH at QoS 1."""
    return _packet(0x32, _text(topic) + packet_id.to_bytes(2, "big") + payload)


def _room(sent: int, acked: list[int]) -> bool:
    return sent - acked[0] < WINDOW


def publisher(argv: list[str]) -> int:
    """Child: connect (MQTT 3.1.1, its own socket), print ``ready``; on ``go`` (stdin) write the
    file's messages as QoS 1 PUBLISH packets made beforehand, at most ``WINDOW`` not yet
    PUBACKed (paced at ``rate`` messages a second if given); print ``done`` once every PUBACK
    is in, and write each message's publish time (monotonic) beside the file."""
    import socket

    host, port, name, path, rate = argv[0], int(argv[1]), argv[2], Path(argv[3]), float(argv[4])
    with path.open("rb") as f:
        messages = pickle.load(f)
    packets = [publish_packet(t, p, i % 65535 + 1) for i, (t, p, _) in enumerate(messages)]
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connect = _text("MQTT") + bytes([4, 0xC2, 0, 0]) + _text(name) + _text(name) + _text("bench")
    sock.sendall(_packet(0x10, connect))
    if sock.recv(4) != b"\x20\x02\x00\x00":
        print("failed: the broker refused the connection", flush=True)
        return 1
    acked = [0]
    cond = threading.Condition()

    def read() -> None:
        pending = b""
        while acked[0] < len(packets):
            data = sock.recv(65536)
            if not data:
                return
            pending += data
            whole = len(pending) // 4  # only PUBACKs come: 0x40 0x02 and the packet id
            pending = pending[whole * 4 :]
            with cond:
                acked[0] += whole
                cond.notify_all()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    print("ready", flush=True)
    sys.stdin.readline()
    times = []
    t0 = time.monotonic()
    i, step = 0, 1 if rate else 64
    while i < len(packets):
        if rate:
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        with cond:
            cond.wait_for(functools.partial(_room, i, acked), TIMEOUT_S)
        chunk = packets[i : i + step]
        now = time.monotonic()
        sock.sendall(b"".join(chunk))
        times.extend([now] * len(chunk))
        i += len(chunk)
    with cond:
        if not cond.wait_for(lambda: acked[0] >= len(packets), TIMEOUT_S):
            print(f"failed {acked[0]} of {len(packets)} acknowledged", flush=True)
            return 1
    with path.with_suffix(".times").open("wb") as out:
        pickle.dump(times, out)
    print(f"done {time.monotonic() - t0:.3f}", flush=True)
    sock.sendall(b"\xe0\x00")
    sock.close()
    return 0


class Child:
    """A child process whose stdout lines are collected."""

    def __init__(
        self, args: list[str], *, stdin: bool = False, python: bool = True, quiet: bool = False
    ) -> None:
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        self.proc = subprocess.Popen(
            [sys.executable, *args] if python else args,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL if quiet else subprocess.PIPE,
            stderr=subprocess.DEVNULL if quiet else subprocess.STDOUT, text=True, env=env,
        )  # fmt: skip
        self.name = " ".join(args[:4])
        self.lines: list[str] = []
        self.cond = threading.Condition()
        if not quiet:
            threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.lines.append("<eof>")
            self.cond.notify_all()

    def wait_for(self, prefix: str, timeout: float) -> str:
        def found() -> str | None:
            return next((x for x in self.lines if x.startswith((prefix, "<eof>"))), None)

        with self.cond:
            if not self.cond.wait_for(found, timeout):
                raise TimeoutError(f"no {prefix!r} from {self.name} in {timeout} s")
            line = found()
        if line is None or line == "<eof>":
            raise RuntimeError(f"{self.name} ended early: {self.lines[-8:]}")
        return line

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def cpu_s(self) -> float:
        """User + system CPU seconds of the child so far (Linux /proc)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_publishers(broker, tmp: Path, parts: list[list], rate: float = 0.0) -> list[Child]:
    children = []
    for i, part in enumerate(parts):
        path = tmp / f"pub-{i}.pickle"
        with path.open("wb") as f:
            pickle.dump(part, f, protocol=pickle.HIGHEST_PROTOCOL)
        child = Child(
            ["-m", "bench.centre_ingest", "--publisher", broker.host, str(broker.port),
             f"pub-{i}", str(path), str(rate / len(parts) if rate else 0)],
            stdin=True,
        )  # fmt: skip
        children.append(child)
    for child in children:
        child.wait_for("ready", 30)
    return children


def publish(children: list[Child]) -> float:
    """Start every publisher; returns the monotonic time they were told to go."""
    t0 = time.monotonic()
    for child in children:
        child.go()
    return t0


# --- the sides ----------------------------------------------------------------------------------


def _subscriber_args(broker, name: str, plain: bool) -> list[str]:
    if plain:
        return ["--host", broker.host, "--port", str(broker.port), "--username", name]
    cert, key = broker.client_cert(name)
    return ["--host", broker.host, "--port", str(broker.tls_port), "--ca", str(broker.ca_path),
            "--cert", str(cert), "--key", str(key)]  # fmt: skip


def run_capture(broker, tmp: Path, devices: list[Device], shape: Shape, plain: bool) -> dict:
    parts = timed_messages(devices, shape)
    total = len(devices) + sum(len(p) for p in parts)
    if plain:
        conn = ["-h", broker.host, "-p", str(broker.port), "-u", "capture", "-P", "bench"]
    else:
        cert, key = broker.client_cert("capture")
        conn = ["-h", broker.host, "-p", str(broker.tls_port), "--cafile", str(broker.ca_path),
                "--cert", str(cert), "--key", str(key)]  # fmt: skip
    mark = broker.log_mark()
    sub = Child(
        ["mosquitto_sub", *conn, "-i", "capture", "-V", "5", "-q", "1", "-t", FILTER,
         "-C", str(total)],
        python=False, quiet=True,
    )  # fmt: skip
    try:
        broker.wait_for_log(f"capture 1 {FILTER}", since=mark, timeout=30)
        warm = start_publishers(broker, tmp, [[(t, p, 1) for t, p in warmup_messages(devices)]])
        publish(warm)
        for child in warm:
            child.wait_for("done", TIMEOUT_S)
        pubs = start_publishers(broker, tmp, parts)
        t0 = publish(pubs)
        sub.proc.wait(TIMEOUT_S)
        elapsed = time.monotonic() - t0
        for child in pubs:
            child.wait_for("done", TIMEOUT_S)
        if sub.proc.returncode != 0:
            raise RuntimeError(f"mosquitto_sub failed with {sub.proc.returncode}")
    finally:
        sub.stop()
    return {"seconds": elapsed, "events_per_s": shape.events / elapsed,
            "detail": f"{total - len(devices)} messages"}  # fmt: skip


def paho_sink(argv: list[str]) -> int:
    """Child: the centre's MQTT side without its store, a ceiling for the ingest. The centre's
    connection (paho, MQTT v5, persistent session, manual PUBACKs, the ingest's Receive
    Maximum) hands each message to a second thread, as the ingest's network thread does, which
    publishes a retained QoS 1 ``ack`` for it and then PUBACKs it (what the centre does per
    message of a live stream, its database left out). Prints ``connected``, then ``done`` once
    ``total`` messages are acknowledged."""
    import queue

    from sync import schema, topics
    from sync.connection import Message, MqttConnection
    from sync.settings import ConnectionSettings, IngestSettings, TlsSettings

    host, port, name, total = argv[0], int(argv[1]), argv[2], int(argv[3])
    tls = TlsSettings(Path(argv[4]), Path(argv[5]), Path(argv[6])) if len(argv) > 4 else None
    settings = ConnectionSettings(
        host, port, client_id=name, tls=tls, username=None if tls else name,
        password=None if tls else "bench", clean_start=False, session_expiry_s=3600,
        receive_maximum=IngestSettings().receive_maximum,
    )  # fmt: skip
    connection = MqttConnection(settings, manual_ack=True)
    inbox: queue.SimpleQueue[Message] = queue.SimpleQueue()
    connection.subscribe(FILTER, inbox.put)
    connection.start()
    if not connection.wait_connected(30):
        print("failed: not connected", flush=True)
        return 1
    print("connected", flush=True)
    for _ in range(total):
        message = inbox.get()
        info = topics.parse(message.topic)
        assert info is not None and info.device is not None
        connection.publish(
            topics.ack(info.branch, info.device), schema.encode_ack(info.device, 1), qos=1,
            retain=True,
        )  # fmt: skip
        connection.ack(message)
    print("done", flush=True)
    connection.stop()
    return 0


def run_paho(broker, tmp: Path, devices: list[Device], shape: Shape, plain: bool) -> dict:
    """The paho-only consumer (:func:`paho_sink`), timed as the capture is."""
    parts = timed_messages(devices, shape)
    total = len(devices) + sum(len(p) for p in parts)
    if plain:
        conn = [broker.host, str(broker.port), "centre-0", str(total)]
    else:
        cert, key = broker.client_cert("centre-0")
        conn = [broker.host, str(broker.tls_port), "centre-0", str(total), str(broker.ca_path),
                str(cert), str(key)]  # fmt: skip
    sink = Child(["-m", "bench.centre_ingest", "--paho-sink", *conn])
    try:
        sink.wait_for("connected", 60)
        warm = start_publishers(broker, tmp, [[(t, p, 1) for t, p in warmup_messages(devices)]])
        publish(warm)
        for child in warm:
            child.wait_for("done", TIMEOUT_S)
        pubs = start_publishers(broker, tmp, parts)
        cpu0 = sink.cpu_s()
        t0 = publish(pubs)
        sink.wait_for("done", TIMEOUT_S)
        elapsed = time.monotonic() - t0
        cpu = sink.cpu_s() - cpu0
        for child in pubs:
            child.wait_for("done", TIMEOUT_S)
    finally:
        sink.stop()
    return {"seconds": elapsed, "events_per_s": shape.events / elapsed,
            "cpu_us": cpu / shape.events * 1e6,
            "detail": f"{total - len(devices)} messages, an ack each"}  # fmt: skip


def run_filing(devices: list[Device], shape: Shape, target: str) -> dict:
    """The centre's store alone, in this process: the same messages read, prepared and filed
    (``CentralStore.ingest_many``) in groups of ``group_max_messages`` as the ingest's store
    thread does, without MQTT; CPU time of this process beside the time."""
    from central.ingest import prepare
    from central.store import CentralStore, Prepared
    from sync.connection import Message
    from sync.settings import IngestSettings

    group = IngestSettings().group_max_messages
    parts = timed_messages(devices, shape)
    timed = [m for ms in itertools.zip_longest(*parts) for m in ms if m is not None]
    warm = [(t, p, 1) for t, p in warmup_messages(devices)]

    def file(store: CentralStore, messages: list[tuple[str, bytes, int]]) -> None:
        for i in range(0, len(messages), group):
            ready = [prepare(Message(t, p, 1, False, 0, 0)) for t, p, _ in messages[i : i + group]]
            with store.group():
                store.ingest_many(
                    [b for _, b in ready if isinstance(b, Prepared)], datetime.now(UTC)
                )

    with CentralStore(target) as store:
        file(store, warm)
        cpu0, t0 = time.process_time(), time.monotonic()
        file(store, timed)
        elapsed, cpu = time.monotonic() - t0, time.process_time() - cpu0
    db = _read_db(target)
    check(db, devices, ["errors=0"])
    db.close()
    return {"seconds": elapsed, "events_per_s": shape.events / elapsed,
            "cpu_us": cpu / shape.events * 1e6,
            "detail": f"in process, groups of {group} messages"}  # fmt: skip


def _read_db(target: str):
    from central.database import open_database

    return open_database(target, 30.0)


def _stored(db) -> int:
    return int(db.execute("SELECT coalesce(sum(events), 0) FROM stores").fetchone()[0])


def _wait_stored(db, n: int, centre: Centre, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _stored(db) < n:
        centre.check_running()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the centre stored {_stored(db)} of {n} events in {timeout} s")
        time.sleep(POLL_S)


class Centre:
    """``python -m central run``: one worker, or several of one share group."""

    def __init__(self, broker, target: str, plain: bool, workers: int) -> None:
        os.environ["BENCH_PASSWORD"] = "bench"
        self.children: list[Child] = []
        mark = broker.log_mark()
        group = ["--share-group", "bench"] if workers > 1 else []
        for i in range(workers):
            name = f"centre-{i}"
            env_password = ["--password-env", "BENCH_PASSWORD"] if plain else []
            self.children.append(Child(
                ["-m", "central", "run", "--db", target, "--client-id", name, *group,
                 *_subscriber_args(broker, name, plain), *env_password]
            ))  # fmt: skip
        for i, child in enumerate(self.children):
            child.wait_for("centre: connected", 60)
            shared = f"$share/bench/{FILTER}" if workers > 1 else FILTER
            broker.wait_for_log(f"centre-{i} 1 {shared}", since=mark, timeout=30)

    def check_running(self) -> None:
        for child in self.children:
            if child.proc.poll() is not None:
                raise RuntimeError(f"the centre ended: {child.lines[-8:]}")

    def cpu_s(self) -> float:
        return sum(child.cpu_s() for child in self.children)

    def stop(self) -> list[str]:
        """Stop every worker; their closing statistics."""
        for child in self.children:
            child.stop()
        return [
            next((x for x in child.lines if x.startswith("centre: stopped")), "")
            for child in self.children
        ]


def run_centre(
    broker, tmp: Path, devices: list[Device], shape: Shape, target: str, plain: bool,
    workers: int,
) -> dict:  # fmt: skip
    parts = timed_messages(devices, shape)
    centre = Centre(broker, target, plain, workers)
    db = _read_db(target)
    try:
        warm = start_publishers(broker, tmp, [[(t, p, 1) for t, p in warmup_messages(devices)]])
        publish(warm)
        _wait_stored(db, len(devices), centre, TIMEOUT_S)
        pubs = start_publishers(broker, tmp, parts)
        cpu0 = centre.cpu_s()
        t0 = publish(pubs)
        _wait_stored(db, len(devices) * (shape.events_each + 1), centre, TIMEOUT_S)
        elapsed = time.monotonic() - t0
        cpu = centre.cpu_s() - cpu0
        for child in pubs:
            child.wait_for("done", TIMEOUT_S)
    finally:
        stats = centre.stop()
    check(db, devices, stats)
    db.close()
    return {
        "seconds": elapsed,
        "events_per_s": shape.events / elapsed,
        "cpu_us": cpu / shape.events * 1e6,
        "detail": " | ".join(x.split("IngestStats", 1)[-1] for x in stats),
    }


def check(db, devices: list[Device], stats: list[str]) -> None:
    """Every event once, every store contiguous to its last seq, every transaction row, no chain
    break, nothing quarantined, no database error in the ingest."""
    n = sum(len(d.events) for d in devices)
    rows = sum(d.rows for d in devices)
    held = db.execute("SELECT count(*) FROM events").fetchone()[0]
    short = db.execute(
        "SELECT count(*) FROM stores WHERE contiguous_seq <> max_seq OR duplicates <> 0"
    ).fetchone()[0]
    tx = db.execute("SELECT count(*) FROM transactions").fetchone()[0]
    summed = db.execute("SELECT coalesce(sum(rows), 0) FROM rollups").fetchone()[0]
    breaks = db.execute("SELECT count(*) FROM chain_breaks").fetchone()[0]
    kept = db.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    problems = []
    if held != n or short:
        problems.append(f"{held} events held of {n}, {short} stores not contiguous")
    if tx != rows or int(summed) != rows:
        problems.append(f"{tx} transactions ({summed} in the rollups) of {rows}")
    if breaks or kept:
        problems.append(f"{breaks} chain breaks, {kept} quarantined")
    if not all("errors=0" in x for x in stats):
        problems.append(f"ingest errors: {stats}")
    if problems:
        raise RuntimeError("the centre's result is wrong: " + "; ".join(problems))


def run_alert_latency(
    broker, tmp: Path, devices: list[Device], shape: Shape, target: str, rate: float, plain: bool,
    workers: int,
) -> dict:  # fmt: skip
    """Paced live traffic: publish -> alert stored, per alert raised by one event."""
    parts = timed_messages(devices, shape)
    centre = Centre(broker, target, plain, workers)
    db = _read_db(target)
    seen: dict[str, float] = {}  # evidence event id -> when the alert was first seen stored
    try:
        warm = start_publishers(broker, tmp, [[(t, p, 1) for t, p in warmup_messages(devices)]])
        publish(warm)
        _wait_stored(db, len(devices), centre, TIMEOUT_S)
        (last_id,) = db.execute("SELECT coalesce(max(id), 0) FROM alerts").fetchone()
        pubs = start_publishers(broker, tmp, parts, rate)
        publish(pubs)
        total = len(devices) * (shape.events_each + 1)
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            now = time.monotonic()
            for aid, evidence in db.execute(
                "SELECT id, evidence FROM alerts WHERE id > ? ORDER BY id", (last_id,)
            ).fetchall():
                last_id = aid
                for eid in evidence.strip("[]").replace('"', "").split(", "):
                    seen.setdefault(eid, now)
            if _stored(db) >= total or now > deadline:
                break
            time.sleep(ALERT_POLL_S)
        for child in pubs:
            child.wait_for("done", TIMEOUT_S)
    finally:
        centre.stop()
    db.close()
    published: dict[str, float] = {}
    by_topic = {d.topic: d for d in devices}
    for i, part in enumerate(parts):
        with (tmp / f"pub-{i}.times").open("rb") as f:
            times = pickle.load(f)
        for (topic, payload, _), at in zip(part, times, strict=True):
            d = by_topic[topic]
            seq = int(payload.split(b'"seq":', 1)[1].split(b",", 1)[0])
            for s, eid in d.alerting:
                if s == seq:
                    published[eid] = at
    latencies = sorted(seen[e] - published[e] for e in published if e in seen)
    missing = sum(1 for e in published if e not in seen)
    if not latencies:
        raise RuntimeError("no alert was seen")
    return {
        "n": len(latencies),
        "missing": missing,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1000,
        "max_ms": latencies[-1] * 1000,
    }


# --- the run ------------------------------------------------------------------------------------

SIDES = ("capture", "paho", "filing", "sqlite", "postgresql")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--publisher"]:
        return publisher(argv[1:])
    if argv[:1] == ["--paho-sink"]:
        return paho_sink(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m bench.centre_ingest", description=__doc__)
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every side (1)")
    parser.add_argument("--shapes", default="backlog,live 1k,live 10k", help="which shapes")
    parser.add_argument("--sides", default=",".join(SIDES), help="which sides")
    parser.add_argument(
        "--alert-rate", type=float, default=1000.0,
        help="events/s of the paced stream for the alert latency (1000; 0: skip it)",
    )  # fmt: skip
    parser.add_argument("--plain", action="store_true", help="subscribers without TLS too")
    parser.add_argument(
        "--workers", type=int, default=1, choices=range(1, MAX_WORKERS + 1),
        help="ingest workers of one share group (1)",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a fifth of the events")
    args, _ = parser.parse_known_args(argv)
    signal.signal(signal.SIGTERM, _interrupted)  # stop what was started (the finally blocks)
    wanted = [s for s in shapes(args.quick) if s.name in args.shapes.split(",")]
    sides = [s for s in SIDES if s in args.sides.split(",")]
    from tests.mqtt_broker import CertAuthority

    t = time.monotonic()
    fleets = {s.name: cached_fleet(s.devices, s.events_each + 1, live=s.batch == 1) for s in wanted}
    print(f"  fleets ready in {time.monotonic() - t:.0f} s", flush=True)
    results: dict[tuple[str, str], list[dict]] = {}
    latency: dict[str, dict] = {}
    pg = None
    with tempfile.TemporaryDirectory(prefix="bench-centre-") as tmp_name:
        tmp = Path(tmp_name)
        ca = CertAuthority(tmp / "ca")
        try:
            if "postgresql" in sides or args.alert_rate:
                from tests.postgres_server import PostgresServer

                pg = PostgresServer(durable=True)
            runs = 0
            for r in range(args.rounds):
                for shape in wanted:
                    order = [sides[(r + i) % len(sides)] for i in range(len(sides))]
                    for side in order:
                        runs += 1
                        work = tmp / f"run-{runs}"
                        work.mkdir()
                        broker = start_broker(work / "broker", ca)
                        try:
                            res = _run_side(side, broker, work, fleets[shape.name], shape, pg,
                                            args)  # fmt: skip
                        finally:
                            broker.stop()
                        results.setdefault((shape.name, side), []).append(res)
                        print(f"  round {r + 1} {shape.name:9} {side:10} "
                              f"{res['events_per_s']:9.0f} events/s  {res['detail']}",
                              flush=True)  # fmt: skip
            if args.alert_rate:
                live = next((s for s in wanted if s.name == "live 10k"), wanted[-1])
                for side in ("sqlite", "postgresql"):
                    runs += 1
                    work = tmp / f"run-{runs}"
                    work.mkdir()
                    broker = start_broker(work / "broker", ca)
                    if side == "sqlite":
                        target = str(work / "centre.sqlite")
                    else:
                        assert pg is not None  # started above whenever alert_rate is given
                        target = pg.new_database()
                    try:
                        latency[side] = run_alert_latency(
                            broker, work, fleets[live.name], live, target, args.alert_rate,
                            args.plain, args.workers,
                        )  # fmt: skip
                    finally:
                        broker.stop()
        finally:
            if pg is not None:
                pg.stop()
    report(results, latency, wanted, sides, args)
    return 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run_side(side, broker, work: Path, devices, shape: Shape, pg, args) -> dict:
    if side == "capture":
        return run_capture(broker, work, devices, shape, args.plain)
    if side == "paho":
        return run_paho(broker, work, devices, shape, args.plain)
    if side == "filing":
        return run_filing(devices, shape, str(work / "centre.sqlite"))
    target = str(work / "centre.sqlite") if side == "sqlite" else pg.new_database()
    return run_centre(broker, work, devices, shape, target, args.plain, args.workers)


def report(results, latency, wanted: list[Shape], sides: list[str], args) -> None:
    transport = "TCP (no TLS)" if args.plain else "TLS with client certificates"
    print(
        f"Mosquitto on 127.0.0.1: {PUBLISHERS} paho publishers (QoS 1, password listener), "
        f"subscribers over {transport}; {args.workers} ingest worker(s); {os.cpu_count()} CPUs"
    )
    print(f"{'shape':10}{'side':12}{'events/s':>10}{'ratio':>7}{'CPU µs/ev':>11}   by round")
    verdicts = []
    for shape in wanted:
        rate = {
            side: statistics.median(r["events_per_s"] for r in results[(shape.name, side)])
            for side in sides
            if (shape.name, side) in results
        }
        for side in sides:
            if side not in rate:
                continue
            rs = results[(shape.name, side)]
            ratio = f"{rate[side] / rate['capture']:.2f}" if "capture" in rate else "-"
            cpu = statistics.median(r.get("cpu_us", float("nan")) for r in rs)
            each = " ".join(f"{r['events_per_s']:.0f}" for r in rs)
            print(f"{shape.name:10}{side:12}{rate[side]:10.0f}{ratio:>7}{cpu:11.0f}   {each}")
        print(f"{'':10}({shape.devices} devices, {shape.events} events in {shape.messages} "
              f"messages of {shape.batch})")  # fmt: skip
        if "sqlite" in rate:
            verdicts.append((shape.name, rate["sqlite"]))
    for side, lat in latency.items():
        print(f"alert latency, {side}, live 10k paced at {args.alert_rate:.0f} events/s: "
              f"p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms "
              f"({lat['n']} alerts, {lat['missing']} not seen; polled every "
              f"{ALERT_POLL_S * 1000:.0f} ms)")  # fmt: skip
    missed = [f"{name} {rate:.0f}/s" for name, rate in verdicts if rate < TARGET]
    verdict = "MET" if verdicts and not missed else "NOT MET"
    print(f"target: at least {TARGET:.0f} events/s on SQLite in every shape: {verdict}"
          + (f" ({', '.join(missed)})" if missed else ""))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
