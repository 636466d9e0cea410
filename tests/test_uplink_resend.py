"""How a device answers the centre's ``resend`` requests: acknowledged seqs too (a centre
restored from an older backup asks for them), but never what the store has deleted, never
beyond the range asked, and never more than ``max_unacked_events`` for a pile of requests."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from device.store import EventStore
from sync import schema, topics
from sync.settings import UplinkSettings
from sync.uplink import pending_range
from tests.mqtt_broker import ProbeClient
from tests.mqtt_broker import mqtt_broker as mqtt_broker  # pytest fixture
from tests.sync_harness import (
    BRANCH,
    CENTRE,
    Device,
    append_events,
    pruned_store,
    roster,
    wait_until,
)

PAD = "pad-1"


def _wait_listening(centre: ProbeClient) -> None:
    """Until the device's online status arrives: it subscribes before it says so, on the same
    connection, so its ``resend`` subscription is in place by then."""
    centre.subscribe(topics.status(BRANCH, PAD))
    wait_until(
        lambda: any(m.topic == topics.status(BRANCH, PAD) for m in centre.received()),
        10,
        "the device online",
    )


def _batches(centre: ProbeClient) -> list[schema.EventBatch]:
    events = topics.events(BRANCH, PAD)
    return [schema.parse_batch(bytes(m.payload), PAD) for m in centre.received(events)]


def test_a_resend_of_deleted_seqs_sends_what_is_left_of_the_range_and_says_so(
    mqtt_broker, tmp_path: Path
) -> None:
    broker = mqtt_broker(acl=roster(PAD))
    device = Device(broker, tmp_path, PAD, uplink_settings=UplinkSettings(ack_timeout_s=600))
    store = pruned_store(device.db, PAD, 40, 30)  # holds 41..70
    with ProbeClient(broker, CENTRE) as centre:
        centre.subscribe(topics.events(BRANCH, PAD))
        device.start()
        try:
            _wait_listening(centre)

            # half deleted, beyond the store, wholly deleted: one after the other, as a centre
            # asks for the one gap above its mark
            def ask(first: int, last: int, heard: int, answered: int) -> None:
                resend = schema.encode_resend(PAD, first, last, store=store)
                assert centre.publish(topics.resend(BRANCH, PAD), resend) < 0x80
                wait_until(lambda: device.uplink.stats.resend_requests >= heard, 10, "heard")
                wait_until(lambda: len(_batches(centre)) >= answered, 10, "answered")

            ask(31, 45, heard=1, answered=1)
            ask(66, 80, heard=2, answered=2)
            ask(11, 20, heard=3, answered=2)
            time.sleep(0.5)  # and nothing more
            batches = _batches(centre)
        finally:
            device.stop()
    assert [(b.first, b.last, b.pruned) for b in batches] == [(41, 45, 40), (66, 70, 40)]
    assert device.uplink.stats.resent_events == 10


@pytest.mark.parametrize(
    ("pending", "asked", "served"),
    [
        (None, (5, 9), (5, 9)),
        ((1, 50), (40, 80), (1, 80)),  # overlapping: the union
        ((1, 50), (51, 60), (1, 60)),  # touching: the union
        ((40, 80), (1, 50), (1, 80)),
        ((1, 400), (300, 900), (1, 500)),  # the union capped at 500 seqs
        ((1, 1), (99_999, 100_000), (1, 1)),  # disjoint: the lower, never a range spanning both
        ((99_999, 100_000), (1, 1), (1, 1)),
    ],
)
def test_requests_that_pile_up_make_one_bounded_range(pending, asked, served) -> None:
    assert pending_range(pending, asked, 500) == served


def test_a_request_for_everything_resends_at_most_the_window(mqtt_broker, tmp_path: Path) -> None:
    broker = mqtt_broker(acl=roster(PAD))
    settings = UplinkSettings(batch_max_events=100, max_unacked_events=300, ack_timeout_s=600)
    device = Device(broker, tmp_path, PAD, uplink_settings=settings)
    last = append_events(device.db, PAD, 1000)
    with EventStore(device.db, PAD) as store:
        store.ack(last)
        sid = store.store_id
    with ProbeClient(broker, CENTRE) as centre:
        centre.subscribe(topics.events(BRANCH, PAD))
        device.start()
        try:
            _wait_listening(centre)
            resend = schema.encode_resend(PAD, 1, 10**9, store=sid)
            assert centre.publish(topics.resend(BRANCH, PAD), resend) < 0x80
            wait_until(lambda: len(_batches(centre)) >= 3, 10, "three resent batches")
            time.sleep(0.5)  # and nothing more
            batches = _batches(centre)
        finally:
            device.stop()
    assert [(b.first, b.last) for b in batches] == [(1, 100), (101, 200), (201, 300)]
