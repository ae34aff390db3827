"""The approval rules, pure: levels decided in order by a holder of the role (an ops_admin holds
every role) or a named approver, any level rejects and ends it, a reason to reject, a repeat of
the same person's decision changes nothing, anything else on a finished approval or another
level is a Conflict with its code."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.shared.auth import ROLES, Principal
from chalicelib.shared.errors import Conflict, Forbidden, Invalid
from chalicelib.workflows.domain import approvals as a

AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
TWO = (a.Level("customer_service"), a.Level("finance"))


def person(user: str, *roles: str) -> Principal:
    return Principal(user, frozenset({"staff", *roles}), "op-1")


def decision(level: int, by: str, choice: str = a.APPROVE, **extra: object) -> a.Decision:
    return a.decision_of(level=level, decision=choice, by=by, at=AT, **extra)  # type: ignore[arg-type]


def test_two_levels_approve_in_order_and_end_approved() -> None:
    flow = a.opened(TWO)
    assert (flow.state, flow.level, flow.current) == (a.IN_PROGRESS, 0, TWO[0])
    cs, fin = person("cs", "customer_service"), person("fin", "finance")
    first = a.decide(flow, decision(0, "cs"), cs.has_role)
    assert (first.flow.state, first.flow.level, first.repeated) == (a.IN_PROGRESS, 1, False)
    second = a.decide(first.flow, decision(1, "fin"), fin.has_role)
    assert second.flow.state == a.APPROVED and second.flow.finished and second.flow.current is None
    assert [d.by for d in second.flow.decisions] == ["cs", "fin"]


def test_no_levels_is_approved_at_once_and_a_draft_waits_for_its_submission() -> None:
    assert a.opened(()).state == a.APPROVED
    draft = a.opened(TWO, submit=False)
    assert draft.state == a.DRAFT
    with pytest.raises(Conflict) as refused:
        a.decide(draft, decision(0, "cs"), person("cs", "customer_service").has_role)
    assert refused.value.code == "approval_not_submitted"
    assert a.submitted(draft).state == a.IN_PROGRESS
    with pytest.raises(Conflict):
        a.submitted(a.submitted(draft))


def test_any_level_rejects_with_a_reason_and_it_ends() -> None:
    with pytest.raises(Invalid) as no_reason:
        decision(0, "cs", a.REJECT)
    assert no_reason.value.code == "reason_required"
    with pytest.raises(Invalid):
        decision(0, "cs", a.REJECT, reason="   ")
    cs = person("cs", "customer_service")
    rejected = a.decide(a.opened(TWO), decision(0, "cs", a.REJECT, reason="not refundable"), cs.has_role)
    assert rejected.flow.state == a.REJECTED and rejected.flow.level == 0
    with pytest.raises(Conflict) as late:
        a.decide(rejected.flow, decision(1, "fin"), person("fin", "finance").has_role)
    assert late.value.code == "approval_finished"


def test_who_may_decide_roles_ops_admin_and_named_approvers() -> None:
    flow = a.opened(TWO)
    with pytest.raises(Forbidden) as wrong:
        a.decide(flow, decision(0, "fin"), person("fin", "finance").has_role)
    assert wrong.value.code == "not_an_approver"
    assert a.decide(flow, decision(0, "boss"), person("boss", "ops_admin").has_role).flow.level == 1
    named = a.opened((a.Level(None, ("alice",)),))
    with pytest.raises(Forbidden):
        a.decide(named, decision(0, "bob"), person("bob", "ops_admin").has_role)
    assert a.decide(named, decision(0, "alice"), person("alice").has_role).flow.state == a.APPROVED
    both = a.Level("finance", ("alice",))
    assert both.may_decide("alice", person("alice").has_role)
    assert both.may_decide("fin", person("fin", "finance").has_role)
    assert both.inbox_keys("op-1") == ("op-1#role:finance", "op-1#user:alice")


def test_a_repeat_is_a_no_op_and_other_decisions_on_a_decided_level_are_conflicts() -> None:
    cs = person("cs", "customer_service")
    once = a.decide(a.opened(TWO), decision(0, "cs"), cs.has_role).flow
    again = a.decide(once, decision(0, "cs", comment="clicked twice"), cs.has_role)
    assert again.repeated and again.flow == once
    with pytest.raises(Conflict) as stale:
        a.decide(once, decision(0, "cs2"), person("cs2", "customer_service").has_role)
    assert stale.value.code == "stale_level"
    with pytest.raises(Conflict) as changed_mind:
        a.decide(once, decision(0, "cs", a.REJECT, reason="oops"), cs.has_role)
    assert changed_mind.value.code == "stale_level"
    done = a.decide(once, decision(1, "fin"), person("fin", "finance").has_role).flow
    assert a.decide(done, decision(1, "fin"), person("fin", "finance").has_role).repeated


def test_decisions_are_bounded() -> None:
    with pytest.raises(Invalid):
        decision(0, "cs", "maybe")
    with pytest.raises(Invalid):
        decision(0, "cs", comment="x" * (a.MAX_COMMENT_CHARS + 1))
    with pytest.raises(Invalid):
        decision(0, "cs", a.REJECT, reason="x" * (a.MAX_REASON_CHARS + 1))
    with pytest.raises(Invalid):
        decision(0, "cs", attachments=[f"k{i}" for i in range(a.MAX_ATTACHMENTS + 1)])
    with pytest.raises(Invalid):
        decision(0, "cs", attachments=["x" * (a.MAX_ATTACHMENT_CHARS + 1)])
    ok = decision(0, "cs", attachments=["approvals/1/a.pdf"], comment=" fine ")
    assert ok.attachments == ("approvals/1/a.pdf",) and ok.comment == "fine"


def test_levels_and_timeouts_from_outside_are_checked() -> None:
    assert a.levels_of([{"role": "finance"}, {"approvers": ["u1", "u1"]}], ROLES) == (
        a.Level("finance"),
        a.Level(None, ("u1",)),
    )
    bad_levels: list[object] = [
        [{}],
        [{"role": "king"}],
        [{"approvers": [""]}],
        "finance",
        [1],
        [{"role": "finance"}] * 11,
    ]
    for bad in bad_levels:
        with pytest.raises(Invalid):
            a.levels_of(bad, ROLES)
    assert a.timeout_days(3) == 3
    for bad_days in (0, 366, True, 1.5, "3"):
        with pytest.raises(Invalid):
            a.timeout_days(bad_days)


levels = st.lists(
    st.builds(a.Level, st.sampled_from(["customer_service", "finance", "cashier"])), min_size=1, max_size=5
)
clicks = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=5),
        st.sampled_from([a.APPROVE, a.REJECT]),
        st.sampled_from(["cs", "fin", "cash", "boss", "nobody"]),
    ),
    max_size=25,
)
PEOPLE = {
    "cs": person("cs", "customer_service"),
    "fin": person("fin", "finance"),
    "cash": person("cash", "cashier"),
    "boss": person("boss", "ops_admin"),
    "nobody": person("nobody"),
}


@given(levels=levels, clicks=clicks)
def test_whatever_people_click_the_flow_moves_forward_one_level_per_decision(
    levels: list[a.Level], clicks: list[tuple[int, str, str]]
) -> None:
    """Any sequence of clicks: each accepted decision is by an allowed person on the current
    level; the level only moves forward by one; nothing is decided after the end; repeats and
    refusals change nothing; approved means every level approved, rejected means one reject."""
    flow = a.opened(levels)
    for n, (level, choice, who) in enumerate(clicks):
        before = flow
        wanted = decision(level, who, choice, reason="r" if choice == a.REJECT else None)
        wanted = a.Decision(
            wanted.level, wanted.decision, wanted.by, AT + timedelta(seconds=n), wanted.reason
        )
        try:
            outcome = a.decide(flow, wanted, PEOPLE[who].has_role)
        except (Conflict, Forbidden):
            assert flow == before
            continue
        if outcome.repeated:
            assert outcome.flow == before
            continue
        flow = outcome.flow
        assert not before.finished and level == before.level
        assert levels[level].may_decide(who, PEOPLE[who].has_role)
        assert flow.level in (before.level, before.level + 1)
    accepted = flow.decisions
    assert [d.level for d in accepted] == list(range(len(accepted)))
    if flow.state == a.APPROVED:
        assert len(accepted) == len(levels) and all(d.decision == a.APPROVE for d in accepted)
    elif flow.state == a.REJECTED:
        assert accepted[-1].decision == a.REJECT and all(d.decision == a.APPROVE for d in accepted[:-1])
    else:
        assert flow.state == a.IN_PROGRESS and flow.level == len(accepted) < len(levels)
