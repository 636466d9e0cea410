"""The security model on a real Mosquitto 2.0 with real paho-mqtt 2.x (MQTT v5) clients.

One broker for the module runs the ACL that ``sync.acl`` generates from ``ROSTER``, with TLS
client certificates (CN = username). Denials are checked with a barrier instead of a sleep: a
subscriber allowed to read everything waits for a later, allowed message from the same publisher;
the broker keeps per-publisher order, so a denied message that got through would arrive first.
Payloads are not inspected by the broker: rejecting malformed JSON is the ingest's job.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync import acl, topics
from sync.acl import Identity, Role
from sync.topics import Kind, TopicInfo
from tests.mqtt_broker import (
    CertAuthority,
    ConnectionLost,
    MosquittoBroker,
    ProbeClient,
    running_broker,
    session_ca,
)

ROSTER = [
    Identity("b1", "pad-1", Role.COUNTER),
    Identity("b1", "pad-2", Role.COUNTER),
    Identity("b1", "ctl-1", Role.CONTROLLER),
    Identity("b2", "pad-9", Role.COUNTER),
    Identity(None, "centre", Role.CENTRAL),
    Identity(None, "publisher", Role.PUBLISHER),
    Identity("b1", "bridge-b1", Role.BRIDGE),
    Identity(None, "ops", Role.MONITOR),
]
NOT_AUTHORIZED = 0x87
ACCEPTED = (0x00, 0x10)  # Success, No matching subscribers (Mosquitto says so when none)
LIMIT = topics.MAX_PAYLOAD_BYTES


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MosquittoBroker]:
    """The module's broker: production ACL and limits, both listeners."""
    with running_broker(
        tmp_path_factory.mktemp("central"), acl=ROSTER, ca=session_ca(tmp_path_factory)
    ) as b:
        yield b


@pytest.fixture
def ops(central: MosquittoBroker) -> Iterator[ProbeClient]:
    """The monitor, subscribed to everything it may read (all of cs/v1)."""
    with ProbeClient(central, "ops") as probe:
        assert probe.subscribe("cs/v1/#") == [1]
        yield probe


def barrier(device: ProbeClient, watcher: ProbeClient, branch: str = "b1") -> None:
    """Publish an allowed marker from ``device`` and wait until ``watcher`` has it."""
    marker = f"marker-{len(watcher.received())}".encode()
    assert device.publish(topics.events(branch, device.name), marker) in ACCEPTED
    watcher.wait_for_message(lambda m: m.payload == marker)


def test_the_broker_runs_the_acl_generated_from_the_roster(central: MosquittoBroker) -> None:
    text = central.acl_path.read_text()
    assert text == acl.acl_text(ROSTER, source="test roster")
    assert "pattern" not in text and "user pad-1\n" in text
    config = central.config_path.read_text()
    assert f"acl_file {central.acl_path}\n" in config
    for line in ("require_certificate true", "use_identity_as_username true"):
        assert line in config
    assert f"message_size_limit {LIMIT}\n" in config


def test_a_device_publishes_its_events_and_the_centre_receives_them(
    central: MosquittoBroker,
) -> None:
    with ProbeClient(central, "centre") as centre, ProbeClient(central, "pad-1") as pad:
        assert centre.subscribe(topics.topic_filter(Kind.EVENTS)) == [1]
        assert pad.publish(topics.events("b1", "pad-1"), b'{"seq": 1}') in ACCEPTED
        msg = centre.wait_for_message(topics.events("b1", "pad-1"))
        assert msg.payload == b'{"seq": 1}'
        assert topics.parse(msg.topic) == TopicInfo(Kind.EVENTS, "b1", "pad-1")


FORBIDDEN_FOR_PAD_1 = [
    topics.events("b1", "pad-2"),  # another device
    topics.status("b1", "pad-2"),
    topics.config_result("b1", "pad-2"),
    topics.queue_req("b1", "pad-2"),
    topics.events("b2", "pad-1"),  # itself, but in another branch
    topics.config("b1"),  # the configuration publisher's
    topics.ack("b1", "pad-1"),  # the centre's, even on its own topic
    topics.resend("b1", "pad-1"),
    topics.queue_calls("b1"),  # the controller's
    topics.queue_resp("b1", "pad-2"),
    topics.bridge("b1"),  # the bridge's
]


@pytest.mark.parametrize("topic", FORBIDDEN_FOR_PAD_1)
def test_a_device_cannot_publish_outside_its_own_topics(
    central: MosquittoBroker, ops: ProbeClient, topic: str
) -> None:
    with ProbeClient(central, "pad-1") as pad:
        # Mosquitto 2.0.11 answers a denied QoS 1 publish with PUBACK 0x87 (Not authorized)
        assert pad.publish(topic, b"forged", retain=True) == NOT_AUTHORIZED
        assert pad.publish(topic, b"forged-qos0", qos=0) is None  # QoS 0: dropped silently
        barrier(pad, ops)
    assert ops.received(topic) == []
    # nor was anything retained: a new subscriber gets nothing on subscribing
    with ProbeClient(central, "ops", client_id="ops-2") as late:
        late.subscribe(topic)
        late.subscribe(topics.events("b1", "pad-1"))  # its SUBACK comes after any retained one
        assert late.received() == []


def test_a_device_may_subscribe_to_another_devices_ack_but_receives_nothing_from_it(
    central: MosquittoBroker,
) -> None:
    with (
        ProbeClient(central, "centre") as centre,
        ProbeClient(central, "pad-1") as pad1,
        ProbeClient(central, "pad-2") as pad2,
    ):
        # Mosquitto 2.0.11 grants the subscription (SUBACK 0x01, not 0x87) and checks read
        # access on every delivery instead.
        assert pad1.subscribe(topics.ack("b1", "pad-2")) == [1]
        assert pad1.subscribe(topics.topic_filter(Kind.ACK, "b1")) == [1]
        assert pad1.subscribe("#") == [1]
        assert pad2.subscribe(topics.ack("b1", "pad-2")) == [1]
        assert centre.publish(topics.ack("b1", "pad-2"), b'{"seq": 7}') in ACCEPTED
        assert centre.publish(topics.ack("b1", "pad-1"), b'{"seq": 3}') in ACCEPTED
        assert pad2.wait_for_message(topics.ack("b1", "pad-2")).payload == b'{"seq": 7}'
        pad1.wait_for_message(topics.ack("b1", "pad-1"))  # same publisher, sent after
        assert {m.topic for m in pad1.received()} == {topics.ack("b1", "pad-1")}


def test_a_device_reads_its_branch_config_and_queue_but_not_another_branchs(
    central: MosquittoBroker,
) -> None:
    with (
        ProbeClient(central, "publisher") as publisher,
        ProbeClient(central, "ctl-1") as controller,
        ProbeClient(central, "pad-1") as pad,
    ):
        pad.subscribe(topics.branch_filter())
        assert publisher.publish(topics.config("b2"), b'{"version": 9}') in ACCEPTED
        assert publisher.publish(topics.config("b1"), b'{"version": 1}') in ACCEPTED
        assert controller.publish(topics.queue_resp("b1", "pad-2"), b"for pad-2") in ACCEPTED
        assert controller.publish(topics.queue_calls("b1"), b'{"call": "A012"}') in ACCEPTED
        assert controller.publish(topics.queue_resp("b1", "pad-1"), b"for pad-1") in ACCEPTED
        pad.wait_for_message(topics.queue_resp("b1", "pad-1"))
        assert [m.topic for m in pad.received()] == [
            topics.config("b1"),
            topics.queue_calls("b1"),
            topics.queue_resp("b1", "pad-1"),
        ]


def test_a_last_will_on_another_devices_topic_is_never_published(
    central: MosquittoBroker, ops: ProbeClient
) -> None:
    spoofed = topics.status("b1", "pad-2")
    liar = ProbeClient(central, "pad-1", will=(spoofed, b"offline", 1, False)).connect()
    mark = central.log_mark()
    liar.drop()
    central.wait_for_log("Client pad-1 closed its connection", since=mark)
    own = topics.status("b1", "pad-2")
    honest = ProbeClient(central, "pad-2", will=(own, b"offline (honest)", 1, False)).connect()
    honest.drop()
    assert ops.wait_for_message(own).payload == b"offline (honest)"
    assert [m.payload for m in ops.received(spoofed)] == [b"offline (honest)"]


def test_a_device_cannot_take_over_another_devices_session(central: MosquittoBroker) -> None:
    with ProbeClient(central, "pad-1") as victim:
        mark = central.log_mark()
        with ProbeClient(central, "pad-2", client_id="pad-1"):
            log = central.wait_for_log("New client connected", since=mark)
            assert "as pad-2 (" in log  # the broker replaced the client id by the CN
            assert victim.publish(topics.events("b1", "pad-1"), b"still here") in ACCEPTED
        assert victim.disconnect_reason is None
        # whereas the same certificate does take the session over (MQTT's rule)
        with ProbeClient(central, "pad-1", client_id="whatever"):
            victim.wait_disconnected()
            central.wait_for_log(
                "Client pad-1 already connected, closing old connection", since=mark
            )


def test_a_certificate_from_the_ca_but_not_in_the_roster_gets_no_rights(
    central: MosquittoBroker, ops: ProbeClient
) -> None:
    with ProbeClient(central, "stranger") as stranger:
        assert stranger.publish(topics.events("b1", "stranger"), b"x") == NOT_AUTHORIZED
        assert stranger.publish(topics.events("b1", "pad-1"), b"x") == NOT_AUTHORIZED


@pytest.mark.parametrize(
    ("case", "expected_log"),
    [
        ("no certificate", "peer did not return a certificate"),
        ("certificate from another CA", "certificate verify failed"),
        ("expired certificate", "certificate verify failed"),
    ],
)
def test_a_client_without_a_valid_certificate_cannot_connect(
    central: MosquittoBroker, tmp_path: Path, case: str, expected_log: str
) -> None:
    if case == "no certificate":
        probe = ProbeClient(central, "pad-1", with_cert=False)
    elif case == "certificate from another CA":
        probe = ProbeClient(central, "pad-1", cert=CertAuthority(tmp_path).client_cert("pad-1"))
    else:
        probe = ProbeClient(central, "pad-1", cert=central.ca.client_cert("pad-1", expired=True))
    mark = central.log_mark()
    try:
        outcome = probe.try_connect()
    finally:
        probe.close()
    assert not outcome.connected, outcome
    log = central.wait_for_log(expected_log, since=mark)
    assert "New client connected" not in log


def test_the_password_listener_needs_a_password_and_obeys_the_acl(
    central: MosquittoBroker,
) -> None:
    central.add_user("ops", "s3cret")
    for password in (None, "wrong"):
        probe = ProbeClient(central, "ops", tls=False, password=password)
        try:
            outcome = probe.try_connect()
        finally:
            probe.close()
        assert outcome.reason == "CONNACK reason 0x87", outcome  # 0x87, not 0x86
    with (
        ProbeClient(central, "ops", tls=False, password="s3cret") as tool,
        ProbeClient(central, "pad-1") as pad,
    ):
        assert tool.subscribe(topics.branch_filter("b1")) == [1]
        assert tool.publish(topics.config("b1"), b"{}") == NOT_AUTHORIZED  # monitor: read only
        barrier(pad, tool)


def test_a_payload_at_the_limit_passes_and_one_byte_more_is_dropped(
    central: MosquittoBroker, ops: ProbeClient
) -> None:
    topic = topics.events("b1", "pad-1")
    with ProbeClient(central, "pad-1") as pad:
        assert pad.publish(topic, b"x" * LIMIT) in ACCEPTED
        assert len(ops.wait_for_message(topic).payload) == LIMIT
    with ProbeClient(central, "pad-1") as pad:
        mark = central.log_mark()
        # Mosquitto 2.0.11 drops it and answers PUBACK 0x95 (its man page says 0x83); paho 2.2
        # cannot decode 0x95 in a PUBACK and drops the connection (and would resend the message
        # after reconnecting, forever): the uplink must keep its batches under the limit.
        with pytest.raises(ConnectionLost):
            pad.publish(topic, b"y" * (LIMIT + 1))
        log = central.wait_for_log("rc149)", since=mark)
        assert re.search(r"Dropped too large PUBLISH from pad-1 .*\(262145 bytes\)", log)
    with ProbeClient(central, "pad-1") as pad:
        mark = central.log_mark()
        # far over the limit: over max_packet_size too, the broker closes the connection
        with pytest.raises(ConnectionLost):
            pad.publish(topic, b"z" * (LIMIT + topics.PACKET_HEADROOM_BYTES + 1))
        central.wait_for_log("disconnected due to oversize packet", since=mark)
    with ProbeClient(central, "pad-1") as pad:
        barrier(pad, ops)
    assert len(ops.received(topic)[0].payload) == LIMIT
    assert all(set(m.payload) not in ({ord("y")}, {ord("z")}) for m in ops.received(topic))


def test_the_broker_delivers_malformed_payloads_unchanged(central: MosquittoBroker) -> None:
    """The broker does not look inside payloads; the receiver must reject what it can't parse."""
    garbage = b"\xff\xfe not json {"
    with ProbeClient(central, "centre") as centre, ProbeClient(central, "pad-1") as pad:
        centre.subscribe(topics.events("b1", "pad-1"))
        assert pad.publish(topics.events("b1", "pad-1"), garbage) in ACCEPTED
        assert centre.wait_for_message(topics.events("b1", "pad-1")).payload == garbage


def test_a_roster_change_takes_effect_on_reload(central: MosquittoBroker) -> None:
    """Revocation: drop the device from the roster, regenerate the ACL, SIGHUP."""
    try:
        with ProbeClient(central, "pad-2") as open_before:
            assert open_before.publish(topics.events("b1", "pad-2"), b"x") in ACCEPTED
            central.set_acl([i for i in ROSTER if i.name != "pad-2"])
            assert open_before.publish(topics.events("b1", "pad-2"), b"x") == NOT_AUTHORIZED
        with ProbeClient(central, "pad-2") as pad:
            assert pad.publish(topics.events("b1", "pad-2"), b"x") == NOT_AUTHORIZED
    finally:
        central.set_acl(ROSTER)
    with ProbeClient(central, "pad-2") as pad:
        assert pad.publish(topics.events("b1", "pad-2"), b"x") in ACCEPTED


def test_the_bridge_identity_may_speak_only_for_its_branch(central: MosquittoBroker) -> None:
    with ProbeClient(central, "bridge-b1") as bridge:
        assert bridge.publish(topics.events("b1", "pad-1"), b"x") in ACCEPTED
        assert bridge.publish(topics.events("b2", "pad-9"), b"x") == NOT_AUTHORIZED
        assert bridge.publish(topics.queue_calls("b1"), b"x") == NOT_AUTHORIZED


def test_a_branch_broker_bridges_events_up_and_acks_down(
    central: MosquittoBroker, tmp_path: Path
) -> None:
    cert, key = central.client_cert("bridge-b1")
    bridge = acl.bridge_config(
        "b1", "bridge-b1", f"{central.host}:{central.tls_port}",
        acl.TlsFiles(central.ca_path, cert, key),
    )  # fmt: skip
    branch_roster = [i for i in ROSTER if i.branch == "b1" and i.role is not Role.BRIDGE]
    with (
        running_broker(
            tmp_path / "branch", acl=branch_roster, ca=central.ca, extra_config=bridge
        ) as branch,
        ProbeClient(central, "centre") as centre,
        ProbeClient(central, "ops") as ops,
    ):
        ops.subscribe("cs/v1/#")
        centre.subscribe(topics.bridge("b1"))
        centre.wait_for_message(lambda m: m.topic == topics.bridge("b1") and m.payload == b"1")
        centre.subscribe(topics.topic_filter(Kind.EVENTS, "b1"))
        with ProbeClient(branch, "pad-1") as pad:
            pad.subscribe(topics.ack("b1", "pad-1"))
            assert pad.publish(topics.events("b1", "pad-1"), b'{"seq": 42}') in ACCEPTED
            assert centre.wait_for_message(topics.events("b1", "pad-1")).payload == b'{"seq": 42}'
            assert centre.publish(topics.ack("b1", "pad-1"), b'{"upto": 42}') in ACCEPTED
            assert pad.wait_for_message(topics.ack("b1", "pad-1")).payload == b'{"upto": 42}'
            # queue traffic stays in the branch
            assert pad.publish(topics.queue_req("b1", "pad-1"), b"next") in ACCEPTED
            barrier(pad, ops)
        assert ops.received(topics.queue_req("b1", "pad-1")) == []
        branch.stop()
        centre.wait_for_message(lambda m: m.topic == topics.bridge("b1") and m.payload == b"0")


DEPLOY = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto"


class ExampleBroker(MosquittoBroker):
    """Runs a deploy/mosquitto example with its paths and ports pointed at this test's files."""

    def __init__(self, workdir: Path, example: str, central: MosquittoBroker) -> None:
        super().__init__(workdir, acl=ROSTER, ca=central.ca)
        self.example, self.central = example, central

    def config_text(self) -> str:
        server, bridge = self.ca.server_cert(), self.client_cert("bridge-b1")
        files = {
            "/etc/mosquitto/certs/ca.crt": self.ca_path,
            "/etc/mosquitto/certs/server.crt": server[0],
            "/etc/mosquitto/certs/server.key": server[1],
            "/etc/mosquitto/certs/bridge.crt": bridge[0],
            "/etc/mosquitto/certs/bridge.key": bridge[1],
            "/etc/mosquitto/acl": self.acl_path,
            "/etc/mosquitto/passwd": self.password_path,
            "/var/lib/mosquitto/": f"{self.workdir}/",
            "/var/log/mosquitto/mosquitto.log": self.log_path,
            "central.example.net:8883": f"{self.central.host}:{self.central.tls_port}",
            "bridge-chengguan": "bridge-b1",
            "rcu-chengguan": "b1",
            "listener 8883\n": f"listener {self.tls_port} {self.host}\n",
            "listener 1883 127.0.0.1\n": f"listener {self.port} {self.host}\n",
        }
        text = "".join(line for line in self.example.splitlines(True) if line[0] != "#")
        for old, new in files.items():
            text = text.replace(old, str(new))
        assert not re.search(r"/etc/|/var/|listener \d+ *\n|\.example\.", text), text
        return f"user {pwd.getpwuid(os.geteuid()).pw_name}\n{text}"


def test_the_example_acl_is_what_the_generator_makes_of_the_example_roster() -> None:
    roster = acl.load_roster(DEPLOY / "roster.example.csv")
    expected = acl.acl_text(roster, source="roster.example.csv")
    assert (DEPLOY / "acl.example").read_text() == expected


def test_the_example_bridge_is_the_bridge_the_example_roster_lists_for_its_branch() -> None:
    conf = (DEPLOY / "branch.conf").read_text()
    name_line = re.search(r"^remote_clientid (\S+)$", conf, re.M)
    topic_line = re.search(r"^notification_topic cs/v1/(\S+)/bridge$", conf, re.M)
    assert name_line and topic_line, conf
    name, branch = name_line.group(1), topic_line.group(1)
    bridges = [r for r in acl.load_roster(DEPLOY / "roster.example.csv") if r.role == "bridge"]
    assert (branch, name) in [(r.branch, r.name) for r in bridges]
    assert f"CN = {name}," in conf  # the comment on the certificate says the same


@pytest.mark.parametrize("name", ["central.conf", "branch.conf"])
def test_the_example_production_configs_run(
    central: MosquittoBroker, tmp_path: Path, name: str
) -> None:
    broker = ExampleBroker(tmp_path, (DEPLOY / name).read_text(), central)
    with ProbeClient(central, "centre") as centre:
        centre.subscribe(topics.bridge("b1"))
        centre.subscribe(topics.events("b1", "pad-1"))
        try:
            broker.start()
            with ProbeClient(broker, "pad-1") as pad:
                assert pad.publish(topics.events("b1", "pad-2"), b"x") == NOT_AUTHORIZED
                assert pad.publish(topics.events("b1", "pad-1"), b"up") in ACCEPTED
            if name == "branch.conf":
                centre.wait_for_message(lambda m: m.payload == b"up")
        finally:
            broker.stop()


class ProductionCA:
    """The CA procedure of docs/security.md, run with deploy/mosquitto/openssl-ca.cnf."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        (directory / "private").mkdir(parents=True)
        (directory / "newcerts").mkdir()
        (directory / "index.txt").write_text("")
        (directory / "serial").write_text("1000\n")
        (directory / "crlnumber").write_text("1000\n")
        shutil.copy(DEPLOY / "openssl-ca.cnf", directory)
        self.openssl(
            "req", "-x509", "-config", "openssl-ca.cnf", "-extensions", "v3_ca",
            *EC_KEY, "-keyout", "private/ca.key", "-out", "ca.crt", "-days", "7300",
            "-subj", "/CN=counterside test production CA",
        )  # fmt: skip

    def openssl(self, *args: str) -> None:
        proc = subprocess.run(
            ["openssl", *args], cwd=self.dir, capture_output=True, text=True, check=False
        )
        assert proc.returncode == 0, f"openssl {' '.join(args)}:\n{proc.stderr}"

    def issue(self, cn: str, *how: str) -> tuple[Path, Path]:
        self.openssl("req", "-new", *EC_KEY, "-keyout", f"{cn}.key", "-out", f"{cn}.csr",
                     "-subj", f"/CN={cn}")  # fmt: skip
        self.openssl("ca", "-batch", "-config", "openssl-ca.cnf", *how, "-in", f"{cn}.csr",
                     "-out", f"{cn}.crt")  # fmt: skip
        return self.dir / f"{cn}.crt", self.dir / f"{cn}.key"

    def revoke(self, cn: str) -> None:
        self.openssl("ca", "-config", "openssl-ca.cnf", "-revoke", f"{cn}.crt")
        self.openssl("ca", "-config", "openssl-ca.cnf", "-gencrl", "-out", "crl.pem")


EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


def test_the_documented_ca_procedure_issues_and_revokes(tmp_path: Path) -> None:
    ca = ProductionCA(tmp_path / "ca")
    (ca.dir / "server.ext").write_text(SERVER_EXT)
    server = ca.issue("localhost", "-extfile", "server.ext")
    device = ("-extensions", "v3_client", "-startdate", "20240101000000Z")
    pad1, pad2, ctl = (ca.issue(cn, *device) for cn in ("pad-1", "pad-2", "ctl-1"))
    ca.revoke("pad-2")
    files = acl.TlsFiles(ca.dir / "ca.crt", *server, crlfile=ca.dir / "crl.pem")
    with running_broker(tmp_path / "broker", acl=ROSTER, tls_files=files) as broker:
        with ProbeClient(broker, "pad-1", cert=pad1) as pad:
            assert pad.publish(topics.events("b1", "pad-1"), b"x") in ACCEPTED
            assert pad.publish(topics.events("b1", "pad-2"), b"x") == NOT_AUTHORIZED
        mark = broker.log_mark()
        revoked = ProbeClient(broker, "pad-2", cert=pad2)
        try:
            assert not revoked.try_connect().connected
        finally:
            revoked.close()
        broker.wait_for_log("certificate verify failed", since=mark)
        # a CRL updated while the broker runs is read again on SIGHUP (systemctl reload), for
        # new connections: one already open stays open (and keeps its ACL rights)
        open_before = ProbeClient(broker, "pad-1", cert=pad1).connect()
        ca.revoke("pad-1")
        broker.reload()
        assert open_before.publish(topics.events("b1", "pad-1"), b"x") in ACCEPTED
        open_before.close()
        mark = broker.log_mark()
        again = ProbeClient(broker, "pad-1", cert=pad1)
        try:
            assert not again.try_connect().connected
        finally:
            again.close()
        broker.wait_for_log("certificate verify failed", since=mark)
        with ProbeClient(broker, "ctl-1", cert=ctl) as controller:  # the others still get in
            assert controller.publish(topics.queue_calls("b1"), b"A012") in ACCEPTED


SERVER_EXT = """\
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:localhost,IP:127.0.0.1
"""
