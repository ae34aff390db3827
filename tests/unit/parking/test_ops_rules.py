"""Pure rules of staff's actions: the money of an abnormal release, the occupancy bounds and how a
record reads in the cashier's export."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.parking.domain import records
from chalicelib.parking.domain.gate import release_split
from chalicelib.parking.occupancy import bounded

fen = st.integers(min_value=0, max_value=10_000_000)


@given(fee=fen, paid=fen, discount=fen, cash=fen)
def test_a_release_splits_the_cash_into_what_counts_what_is_owed_back_and_the_waiver(
    fee: int, paid: int, discount: int, cash: int
) -> None:
    split = release_split(fee, paid, discount, cash)
    assert split.owed_fen == max(0, fee - paid - discount)
    assert split.applied_fen + split.excess_fen == cash
    assert split.applied_fen + split.waived_fen == split.owed_fen
    assert min(split.applied_fen, split.excess_fen, split.waived_fen) >= 0
    assert split.excess_fen == 0 or split.waived_fen == 0  # never both: cash beyond the fee waives nothing


@given(
    capacity=st.integers(min_value=0, max_value=500),
    start=st.integers(min_value=0, max_value=500),
    moves=st.lists(st.sampled_from([1, -1]), max_size=200),
)
def test_the_count_never_leaves_zero_to_capacity(capacity: int, start: int, moves: list[int]) -> None:
    inside = min(start, capacity)
    for delta in moves:
        inside = bounded(inside, delta, capacity)
        assert 0 <= inside <= capacity


def test_a_stay_reads_in_the_lots_zone_with_its_duration_and_method() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    entered = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    row = {
        "type": "exited",
        "plate": "粤B1",
        "detail": {
            "entered_at": "2026-11-20T01:00:00Z",
            "exited_at": "2026-11-20T03:05:00Z",
            "total_fen": 1250,
            "paid_fen": 1250,
            "cash_fen": 0,
            "status": "exited",
            "entry_remark": "临时车入场",
        },
    }
    assert records.csv_row(row, zone) == [
        "粤B1",
        "2026-11-20 09:00:00",
        "2026-11-20 11:05:00",
        "2:05",
        "12.50",
        "12.50",
        "线上支付",
        "临时车入场",
    ]
    assert records.duration(entered, entered + timedelta(days=1, minutes=1)) == "24:01"
    assert records.method(0, 0, 0, "exited") == "免费"
    assert records.method(500, 500, 1250, "released") == "现金"
    assert records.method(0, 0, 1250, "released") == "异常放行"
    assert records.method(800, 300, 800, "exited") == "现金+线上"
