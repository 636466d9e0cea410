"""Topic names: builders, filters and the parser agree, and bad ids never make a topic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync import topics
from sync.topics import Kind, TopicInfo

ids = st.from_regex(r"[A-Za-z0-9_-]{1,32}", fullmatch=True)
devices = ids.filter(lambda d: d not in topics.RESERVED_DEVICE_IDS)


def test_the_topic_layout() -> None:
    assert topics.events("b1", "pad-1") == "cs/v1/b1/pad-1/events"
    assert topics.status("b1", "pad-1") == "cs/v1/b1/pad-1/status"
    assert topics.ack("b1", "pad-1") == "cs/v1/b1/pad-1/ack"
    assert topics.resend("b1", "pad-1") == "cs/v1/b1/pad-1/resend"
    assert topics.cmd("b1", "pad-1") == "cs/v1/b1/pad-1/cmd"
    assert topics.config("b1") == "cs/v1/b1/config"
    assert topics.config_result("b1", "pad-1") == "cs/v1/b1/config/result/pad-1"
    assert topics.queue_req("b1", "pad-1") == "cs/v1/b1/queue/req/pad-1"
    assert topics.queue_resp("b1", "pad-1") == "cs/v1/b1/queue/resp/pad-1"
    assert topics.queue_calls("b1") == "cs/v1/b1/queue/calls"
    assert topics.queue_state("b1") == "cs/v1/b1/queue/state"
    assert topics.bridge("b1") == "cs/v1/b1/bridge"


@given(kind=st.sampled_from(Kind), branch=ids, device=devices)
def test_parse_inverts_every_builder(kind: Kind, branch: str, device: str) -> None:
    dev = None if kind in topics.BRANCH_KINDS else device
    name = topics.topic(kind, branch, dev)
    info = topics.parse(name)
    assert info == TopicInfo(kind, branch, dev)
    assert info is not None and info.topic == name


@given(kind=st.sampled_from(Kind), branch=ids, device=devices)
def test_filters_match_exactly_the_topics_of_their_kind(
    kind: Kind, branch: str, device: str
) -> None:
    from paho.mqtt.client import topic_matches_sub

    dev = None if kind in topics.BRANCH_KINDS else device
    name = topics.topic(kind, branch, dev)
    for other in Kind:
        other_dev = None if other in topics.BRANCH_KINDS else device
        assert topic_matches_sub(topics.topic_filter(other), name) == (other is kind)
        assert topic_matches_sub(topics.topic_filter(other, branch, other_dev), name) == (
            other is kind
        )
    assert topic_matches_sub(topics.branch_filter(branch), name)


@pytest.mark.parametrize(
    "bad", ["", "+", "#", "a/b", "a+", "x" * 33, "pad 1", "é", "a\x00"], ids=repr
)
def test_an_invalid_id_never_makes_a_topic(bad: str) -> None:
    with pytest.raises(ValueError, match="must match"):
        topics.events(bad, "pad-1")
    with pytest.raises(ValueError, match="must match"):
        topics.events("b1", bad)
    with pytest.raises(ValueError, match="must match"):
        topics.topic_filter(Kind.EVENTS, bad)


@pytest.mark.parametrize("reserved", sorted(topics.RESERVED_DEVICE_IDS))
def test_reserved_names_cannot_be_devices(reserved: str) -> None:
    with pytest.raises(ValueError, match="reserved"):
        topics.events("b1", reserved)
    assert topics.parse(f"cs/v1/b1/{reserved}/events") is None


def test_a_kind_gets_a_device_exactly_when_it_has_one() -> None:
    with pytest.raises(ValueError, match="needs a device"):
        topics.topic(Kind.ACK, "b1")
    with pytest.raises(ValueError, match="has no device"):
        topics.topic(Kind.CONFIG, "b1", "pad-1")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "cs/v1",
        "cs/v1/b1",
        "cs/v2/b1/pad-1/events",
        "xx/v1/b1/pad-1/events",
        "cs/v1/b1/pad-1/event",
        "cs/v1/b1/pad-1/events/extra",
        "cs/v1/b1/queue/req",
        "cs/v1/b1/queue/nothing",
        "cs/v1/b1/config/result",
        "cs/v1/b1/config/other/pad-1",
        "cs/v1/+/pad-1/events",
        "cs/v1/b1/+/events",
        "cs/v1/b1/pad-1/",
        "/cs/v1/b1/pad-1/events",
    ],
)
def test_parse_rejects_what_is_not_ours(name: str) -> None:
    assert topics.parse(name) is None
