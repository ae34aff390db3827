"""Live occupancy: kept in the gate's own transaction, within 0..capacity whatever order and
however often captures arrive, published to the lot's guidance topic, and recounted from the cars
inside."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.parking import config, occupancy
from chalicelib.parking import devices as handlers
from chalicelib.parking.models import Lot, Occupancy, Visit
from chalicelib.platform import downlink
from chalicelib.shared import cache
from tests.support.aws import empty_tables
from tests.support.iot import Recorder, capture, iot_event

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
CAPACITY = 3


def _count() -> int:
    try:
        return int(Occupancy.get("demo-lot", consistent_read=True).inside)
    except Occupancy.DoesNotExist:
        return 0


def _inside() -> int:
    return Visit.inside_by_lot.count("demo-lot")


def _free_quarter_hour() -> None:
    """Stays up to 15 minutes are free (cars entering from now on get this version)."""
    from chalicelib.parking import tariffs
    from chalicelib.parking.contract import TariffUpdate

    current = tariffs.latest("demo-op", "demo-small@demo-op")
    change = TariffUpdate(definition={**current.definition, "free_minutes": 15})
    tariffs.new_version("demo-op", "test", current.tariff_id, change, T0 - timedelta(hours=1))


def _set_capacity(capacity: int) -> None:
    Lot("demo-lot").update(actions=[Lot.capacity.set(capacity)])
    config.clear_cache()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plates=st.lists(
        st.sampled_from(["粤B10001", "粤B10002", "粤B10003", "粤B10004", "粤B10005"]), min_size=1, max_size=6
    ),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_the_count_stays_within_capacity_under_shuffled_duplicate_captures(
    aws_session: Any, plates: list[str], seed: int
) -> None:
    from infra.local.demo import seed as demo_seed

    empty_tables(aws_session)
    cache.reset_all()
    downlink.set_publisher(Recorder())
    demo_seed(T0 - timedelta(days=1))
    _set_capacity(CAPACITY)
    _free_quarter_hour()
    rng = random.Random(seed)
    events = []
    for plate in plates:
        entry = iot_event(ENTRY, "capture", capture(ENTRY, "in", plate))
        leave = iot_event(EXIT, "capture", capture(EXIT, "out", plate))
        events += [entry, entry, leave, leave]
    rng.shuffle(events)
    for n, event in enumerate(events):
        handlers.on_capture(event, T0 + timedelta(seconds=n))
        count = _count()
        assert 0 <= count <= CAPACITY
    # Without saturation the count is exactly the cars inside; with it the recount restores that.
    occupancy.recount("demo-lot", T0 + timedelta(hours=1))
    assert _count() == min(_inside(), CAPACITY)
    downlink.set_publisher(None)


def test_an_entry_and_an_exit_move_the_count_and_notify_the_guidance_publisher(
    demo: dict[str, str], published: Recorder
) -> None:
    _free_quarter_hour()
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", "粤B20001")), T0)
    assert _count() == 1
    assert (
        "parkcharge/lot/demo-lot/occupancy/changed",
        {"lot_id": "demo-lot", "at": "2026-11-22T01:00:00Z"},
    ) in published.messages
    message = occupancy.publish_guidance("demo-lot", T0)
    assert (message["capacity"], message["inside"], message["free"]) == (200, 1, 199)
    assert published.messages[-1] == ("parkcharge/lot/demo-lot/guidance", message)
    handlers.on_capture(
        iot_event(EXIT, "capture", capture(EXIT, "out", "粤B20001")), T0 + timedelta(seconds=30)
    )
    assert _count() == 0


def test_the_guidance_function_publishes_the_free_spaces_of_the_lot_in_the_topic(
    demo: dict[str, str], published: Recorder
) -> None:
    from chalicelib.parking.blueprint import lot_occupancy

    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", "粤B20002")), T0)
    result = lot_occupancy(
        {"topic": "parkcharge/lot/demo-lot/occupancy/changed", "topic_device_id": "demo-lot"}, None
    )
    assert result == {"result": "published", "free": 199}
    topic, message = published.messages[-1]
    assert topic == "parkcharge/lot/demo-lot/guidance" and message["free"] == 199


def test_a_full_lot_still_lets_a_car_in_and_the_count_stays_at_capacity(
    demo: dict[str, str], published: Recorder
) -> None:
    _set_capacity(1)
    for n, plate in enumerate(("粤B30001", "粤B30002")):
        result = handlers.on_capture(
            iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), T0 + timedelta(seconds=n)
        )
        assert result["result"] == "entered"
    assert _count() == 1 and _inside() == 2


def test_the_recount_corrects_drift_and_says_when(demo: dict[str, str], published: Recorder) -> None:
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", "粤B40001")), T0)
    Occupancy("demo-lot").update(actions=[Occupancy.inside.set(57)])
    [result] = [r for r in occupancy.recount_all(T0 + timedelta(minutes=5)) if r["lot_id"] == "demo-lot"]
    assert result == {"lot_id": "demo-lot", "counted": 1, "was": 57, "drift": -56}
    kept = Occupancy.get("demo-lot")
    assert int(kept.inside) == 1 and kept.recounted_at == T0 + timedelta(minutes=5)
    assert int(kept.recount_drift) == -56
    assert ("parkcharge/lot/demo-lot/guidance") in [t for t, _ in published.messages]


def test_notifications_arriving_while_the_lot_is_published_are_coalesced_into_one_more_read(
    demo: dict[str, str], published: Recorder, monkeypatch: Any
) -> None:
    """A burst at a busy lot: three cars enter while the guidance of the first is being read and
    published; their notifications make the running publisher read once more (not three times),
    and the last guidance shows all four cars."""
    from chalicelib.parking.blueprint import lot_occupancy

    event = {"topic": "parkcharge/lot/demo-lot/occupancy/changed", "topic_device_id": "demo-lot"}
    answers: list[dict[str, Any]] = []
    real_view = occupancy.view
    reads = 0

    def view_during_a_burst(lot_id: str) -> dict[str, Any]:
        nonlocal reads
        reads += 1
        seen = real_view(lot_id)
        if reads == 1:  # just after the first read, three more cars enter and notify
            for n in range(3):
                plate = f"粤B4000{n}"
                handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), T0)
                answers.append(lot_occupancy(event, None))
        return seen

    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", "粤B40009")), T0)
    monkeypatch.setattr(occupancy, "view", view_during_a_burst)
    first = lot_occupancy(event, None)
    assert answers == [{"result": "coalesced"}] * 3
    assert first == {"result": "published", "free": 196} and reads == 2  # the second read's
    guidance = [m for t, m in published.messages if t == "parkcharge/lot/demo-lot/guidance"]
    assert [m["inside"] for m in guidance] == [1, 4]
