"""Re-publishing a waiting command backs off: a failed publish is due at once, otherwise the wait
doubles with each re-publish, up to a bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.platform.commands import MAX_BACKOFF_DOUBLINGS, resend_due

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
SETTLE = timedelta(seconds=2)


def test_the_wait_doubles_with_each_republish() -> None:
    assert not resend_due(False, T0, 0, SETTLE, T0 + timedelta(seconds=1.9))
    assert resend_due(False, T0, 0, SETTLE, T0 + timedelta(seconds=2))
    assert not resend_due(False, T0, 1, SETTLE, T0 + timedelta(seconds=3.9))
    assert resend_due(False, T0, 1, SETTLE, T0 + timedelta(seconds=4))
    assert not resend_due(False, T0, 3, SETTLE, T0 + timedelta(seconds=15))
    assert resend_due(False, T0, 3, SETTLE, T0 + timedelta(seconds=16))


@given(st.integers(min_value=0, max_value=10_000), st.integers(min_value=0, max_value=10_000))
def test_a_failed_publish_is_due_at_once_and_the_wait_is_bounded(republished: int, seconds: int) -> None:
    now = T0 + timedelta(seconds=seconds)
    assert resend_due(True, now, republished, SETTLE, now)
    longest = SETTLE * 2**MAX_BACKOFF_DOUBLINGS
    assert resend_due(False, T0, republished, SETTLE, T0 + longest)
    # Never due sooner than the first wait, and later re-publishes never wait less.
    assert not resend_due(False, T0, republished, SETTLE, T0 + SETTLE - timedelta(microseconds=1))
    due_at = SETTLE * 2 ** min(republished, MAX_BACKOFF_DOUBLINGS)
    assert resend_due(False, T0, republished + 1, SETTLE, T0 + due_at) == (
        republished >= MAX_BACKOFF_DOUBLINGS
    )
