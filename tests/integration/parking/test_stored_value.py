"""Stored-value cards (储值卡, docs/identities.md): staff load value onto a card, and the exit takes
the card holder's fee from the balance in its own transaction (real gate handlers on moto)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalice.test import Client
from pynamodb.exceptions import TransactWriteError

from chalicelib.ledger import checks
from chalicelib.ledger import ports as ledger
from chalicelib.parking import config, stored_value
from chalicelib.parking.models import EXITED, INSIDE
from chalicelib.platform import audit
from chalicelib.shared.db import transaction
from tests.integration.parking.test_identities import (
    LOT,
    T0,
    call,
    card,
    card_type,
    enter,
    leave,
    shown,
    visit,
)
from tests.support.iot import Recorder
from tests.support.tokens import staff

EXIT_CAM = "demo-exit-cam"


def stored(client: Client, plates: list[str], balance_fen: int) -> dict[str, Any]:
    card_type(client, "monthly", None)
    made = card(client, plates, kind="stored_value")
    if balance_fen:
        status, out = call(
            client,
            "post",
            f"{LOT}/cards/{made['id']}/top-ups",
            {"top_up_id": "t1", "amount_fen": balance_fen},
            staff(roles=("cashier",)),
        )
        assert status == 201 and out["balance_fen"] == balance_fen, out
    return made


def balance(client: Client, card_id: str) -> int:
    status, out = call(client, "get", f"{LOT}/cards/{card_id}")
    assert status == 200
    return int(out["balance_fen"])


def test_a_cashier_loads_value_once_per_top_up_and_the_exit_pays_from_it(
    client: Client, published: Recorder
) -> None:
    made = stored(client, ["粤S00001"], 300)
    # the same top-up again loads nothing more
    status, out = call(
        client, "post", f"{LOT}/cards/{made['id']}/top-ups", {"top_up_id": "t1", "amount_fen": 300}
    )
    assert status == 201 and out["balance_fen"] == 300
    # a customer-service agent may not load money; a time card takes no top-up
    assert (
        call(
            client,
            "post",
            f"{LOT}/cards/{made['id']}/top-ups",
            {"top_up_id": "t2", "amount_fen": 1},
            staff(roles=("customer_service",)),
        )[0]
        == 403
    )
    enter("粤S00001", T0)
    assert visit("粤S00001").identity["stored_value"] is True
    assert leave("粤S00001", T0 + timedelta(minutes=20))["result"] == "exited"
    v = visit("粤S00001")
    assert v.status == EXITED and v.paid_fen == 250
    assert "储值卡已扣费 余额0.50元" in shown(published, EXIT_CAM)
    assert balance(client, made["id"]) == 50
    lines = ledger.get(f"pay:card-{v.visit_id}")
    assert lines is not None and lines.amount_on(ledger.card_balance(made["id"])) == 250
    entries, _ = audit.query("demo-op", object_type="card", object_id=f"demo-lot/{made['id']}")
    assert sorted(e.action for e in entries) == ["create", "top_up"]
    # the balance is the holder's: the card is not cancelled while it holds some
    assert call(client, "delete", f"{LOT}/cards/{made['id']}")[0] == 409
    assert checks.run() == []


def test_with_too_little_balance_the_car_pays_the_whole_fee_and_the_balance_stays(
    client: Client, published: Recorder
) -> None:
    made = stored(client, ["粤S00002"], 100)
    enter("粤S00002", T0)
    out = leave("粤S00002", T0 + timedelta(minutes=20))
    assert out["result"] == "payment_required" and out["due_fen"] == 250
    assert visit("粤S00002").status == INSIDE
    assert balance(client, made["id"]) == 100


def test_two_exits_cannot_spend_the_same_balance(client: Client, published: Recorder) -> None:
    """The debit is conditional on the balance read: a second exit decided on the same balance
    fails and, read again, finds too little (sequential: in-process moto is not atomic under
    threads)."""
    made = stored(client, ["粤S00003", "粤S00004"], 300)
    enter("粤S00003", T0)
    enter("粤S00004", T0)
    lot = config.lot("demo-lot")
    assert lot is not None
    later = T0 + timedelta(minutes=20)
    stale = stored_value.at_exit(visit("粤S00004"), lot, 250, later)  # reads 3.00 too
    assert stale is not None and stale.amount_fen == 250
    assert leave("粤S00003", later)["result"] == "exited"
    try:
        with transaction() as tx:
            stale.add(tx, visit("粤S00004").visit_id, "demo-op", lot.timezone)
        raise AssertionError("the stale debit went through")
    except TransactWriteError:
        pass
    assert leave("粤S00004", later)["result"] == "payment_required"
    assert balance(client, made["id"]) == 50
    assert checks.run() == []


def test_a_stored_value_card_is_not_a_group_and_only_it_takes_top_ups(client: Client) -> None:
    card_type(client, "monthly", None)
    body = {"type_id": "monthly", "owner": "x", "plates": ["粤S00005", "粤S00006"], "spaces": 1}
    status, out = call(client, "post", f"{LOT}/cards", {**body, "kind": "stored_value"})
    assert status == 400 and out["code"] == "invalid_spaces"
    timed = card(client, ["粤S00007"])
    status, out = call(
        client, "post", f"{LOT}/cards/{timed['id']}/top-ups", {"top_up_id": "a", "amount_fen": 1}
    )
    assert status == 400 and out["code"] == "not_stored_value"
