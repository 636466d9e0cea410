"""The ACL generator: exact grants per role, roster checks, the CSV roster and the CLI.

That Mosquitto enforces the generated file is tested in test_broker_security.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sync import acl
from sync.acl import Identity, Role, RosterError


def block(text: str, user: str) -> list[str]:
    """The ``topic`` lines of one user's block."""
    lines = text.splitlines()
    start = lines.index(f"user {user}") + 1
    out = []
    for line in lines[start:]:
        if not line.startswith("topic "):
            break
        out.append(line)
    return out


def test_a_counter_gets_exactly_its_own_topics() -> None:
    text = acl.acl_text([Identity("b1", "pad-1", Role.COUNTER)])
    assert block(text, "pad-1") == [
        "topic write cs/v1/b1/pad-1/events",
        "topic write cs/v1/b1/pad-1/status",
        "topic write cs/v1/b1/config/result/pad-1",
        "topic read cs/v1/b1/pad-1/ack",
        "topic read cs/v1/b1/pad-1/resend",
        "topic read cs/v1/b1/pad-1/cmd",
        "topic read cs/v1/b1/config",
        "topic write cs/v1/b1/queue/req/pad-1",
        "topic read cs/v1/b1/queue/resp/pad-1",
        "topic read cs/v1/b1/queue/calls",
        "topic read cs/v1/b1/queue/state",
    ]
    assert "pattern" not in text and "#" not in "".join(block(text, "pad-1"))


def test_the_controller_serves_its_branch_queue() -> None:
    text = acl.acl_text([Identity("b1", "ctl", Role.CONTROLLER)])
    lines = block(text, "ctl")
    assert "topic read cs/v1/b1/queue/req/+" in lines
    assert "topic write cs/v1/b1/queue/resp/+" in lines
    assert "topic write cs/v1/b1/queue/calls" in lines
    assert "topic readwrite cs/v1/b1/queue/state" in lines
    assert "topic write cs/v1/b1/ctl/events" in lines  # it syncs its own events too


def test_one_pi_may_be_counter_and_controller() -> None:
    text = acl.acl_text(
        [Identity("b1", "solo", Role.COUNTER), Identity("b1", "solo", Role.CONTROLLER)]
    )
    lines = block(text, "solo")
    assert text.count("user solo") == 1
    assert "topic write cs/v1/b1/queue/req/solo" in lines
    assert "topic readwrite cs/v1/b1/queue/calls" in lines  # reads as counter, writes as controller
    assert len(lines) == len(set(lines))


def test_central_and_monitor_see_every_branch_or_one() -> None:
    text = acl.acl_text(
        [
            Identity(None, "centre", Role.CENTRAL),
            Identity("b7", "centre-b7", Role.CENTRAL),
            Identity(None, "ops", Role.MONITOR),
        ]
    )
    assert block(text, "centre") == [
        "topic readwrite cs/v1/+/+/events",  # writes only to clear a retained message
        "topic read cs/v1/+/+/status",
        "topic read cs/v1/+/config/result/+",
        "topic read cs/v1/+/bridge",
        "topic write cs/v1/+/+/ack",
        "topic write cs/v1/+/+/resend",
        "topic write cs/v1/+/+/cmd",
        "topic write cs/v1/+/alerts",  # each branch's open alerts, retained
    ]  # not the configuration: the publisher's own identity does that
    assert "topic write cs/v1/b7/+/ack" in block(text, "centre-b7")
    assert block(text, "ops") == ["topic read cs/v1/+/#", "topic read $SYS/#"]


def test_the_configuration_publisher_writes_the_config_and_reads_the_results_only() -> None:
    text = acl.acl_text(
        [Identity(None, "publisher", Role.PUBLISHER), Identity("b7", "pub-b7", Role.PUBLISHER)]
    )
    assert block(text, "publisher") == [
        "topic readwrite cs/v1/+/config",
        "topic read cs/v1/+/config/result/+",
    ]
    assert block(text, "pub-b7")[0] == "topic readwrite cs/v1/b7/config"


def test_the_bridge_config_carries_what_the_bridge_identity_may_carry() -> None:
    text = acl.acl_text([Identity("b1", "bridge-b1", Role.BRIDGE)])
    files = acl.TlsFiles(Path("ca.crt"), Path("b.crt"), Path("b.key"))
    conf = acl.bridge_config("b1", "bridge-b1", "central:8883", files)
    topic_lines = [line.split() for line in conf.splitlines() if line.startswith("topic ")]
    granted = [line.split() for line in block(text, "bridge-b1")]
    assert {t for _, t, d, _ in topic_lines if d == "in"} == {
        t for _, a, t in granted if a == "read"
    }
    assert {t for _, t, d, _ in topic_lines if d == "out"} == {
        t for _, a, t in granted if a == "write"
    } - {"cs/v1/b1/bridge"}  # that one Mosquitto publishes itself (notification_topic)
    assert "notification_topic cs/v1/b1/bridge" in conf
    assert "queue" not in conf


def test_the_output_is_deterministic() -> None:
    roster = [
        Identity("b1", "z-pad", Role.COUNTER),
        Identity(None, "centre", Role.CENTRAL),
        Identity("b1", "a-pad", Role.COUNTER),
    ]
    assert acl.acl_text(roster) == acl.acl_text(list(reversed(roster)))
    text = acl.acl_text(roster)
    assert text.index("user a-pad") < text.index("user centre") < text.index("user z-pad")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (Identity("b1", "pad+1", Role.COUNTER), "name must match"),
        (Identity("b1", "#", Role.CENTRAL), "name must match"),
        (Identity("b/1", "pad-1", Role.COUNTER), "branch 'b/1' must match"),
        (Identity(None, "pad-1", Role.COUNTER), "needs a branch"),
        (Identity(None, "bridge-x", Role.BRIDGE), "needs a branch"),
        (Identity("b1", "queue", Role.COUNTER), "reserved"),
        (Identity("b1", "pad-1", "teller"), "role 'teller' is not one of"),  # type: ignore[arg-type]
    ],
)
def test_a_bad_row_is_refused_with_the_reason(row: Identity, message: str) -> None:
    with pytest.raises(RosterError, match=message) as info:
        acl.acl_text([Identity(None, "centre", Role.CENTRAL), row], source="r.csv")
    assert info.value.problems[0].startswith("r.csv: row 2")


def test_every_problem_is_reported_at_once() -> None:
    rows = [
        Identity("b1", "pad-1", Role.COUNTER),
        Identity("b2", "pad-1", Role.COUNTER),  # same name, other branch
        Identity("b1", "pad-2", Role.COUNTER),
        Identity("b1", "pad-2", Role.COUNTER),  # twice
        Identity("b1", "mix", Role.COUNTER),
        Identity("b1", "mix", Role.BRIDGE),  # a bridge is nothing else
    ]
    with pytest.raises(RosterError) as info:
        acl.check_roster(rows)
    problems = info.value.problems
    assert len(problems) == 3
    assert "already listed with branch 'b1', now 'b2'" in problems[0]
    assert "role 'counter' listed twice" in problems[1]
    assert "cannot be combined" in problems[2]


def test_branch_roster_keeps_what_a_branch_broker_needs() -> None:
    roster = [
        Identity("b1", "pad-1", Role.COUNTER),
        Identity("b2", "pad-9", Role.COUNTER),
        Identity("b1", "bridge-b1", Role.BRIDGE),
        Identity(None, "centre", Role.CENTRAL),
        Identity(None, "ops", Role.MONITOR),
        Identity("b2", "ops-b2", Role.MONITOR),
    ]
    assert [r.name for r in acl.branch_roster(roster, "b1")] == ["pad-1", "ops"]


def test_the_cli_reads_a_csv_roster(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("# comment\nbranch,name,role\nb1,pad-1,counter\n,centre,central\n")
    out = tmp_path / "acl"
    assert acl.main([str(roster), "--out", str(out)]) == 0
    assert out.read_text() == acl.acl_text(
        [Identity("b1", "pad-1", Role.COUNTER), Identity(None, "centre", Role.CENTRAL)],
        source="roster.csv",
    )
    assert acl.main([str(roster), "--branch", "b1"]) == 0
    assert "user pad-1" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,branch\nb1,pad-1\n", "header must be branch,name,role"),
        ("branch,name,role\nb1,pad-1\n", "row 1: needs exactly three fields"),
        ("branch,name,role\nb1,pad-1,counter,extra\n", "row 1: needs exactly three fields"),
        ("branch,name,role\nb1,pad-1,boss\n", "row 1 ('pad-1'): role 'boss' is not one of"),
        ("branch,name,role\n,pad-1,counter\n", "row 1 ('pad-1'): role 'counter' needs a branch"),
    ],
)
def test_the_cli_names_the_file_the_row_and_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(text)
    assert acl.main([str(roster)]) == 1
    err = capsys.readouterr().err
    assert str(roster) in err and message in err
