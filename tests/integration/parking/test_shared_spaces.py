"""Shared spaces (共享车位, docs/identities.md#shared-spaces) through the driver and staff routes and
the real gate handlers on moto: the guest's pass, the fee split and who gets what, the owner's
own car while the window is lent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from chalice.test import Client
from pynamodb.exceptions import TransactWriteError

from chalicelib.ledger import checks, journal
from chalicelib.parking import config, identities
from chalicelib.parking.models import EXITED
from chalicelib.platform import audit
from chalicelib.shared.db import transaction
from tests.integration.parking.test_identities import call, enter, leave, visit
from tests.support.iot import Recorder
from tests.support.tokens import auth

LOT = "/v1/ops/lots/demo-lot"
T0 = datetime.now(UTC).replace(microsecond=0)
STARTS, ENDS = T0 + timedelta(hours=2), T0 + timedelta(hours=5)
OWNER = auth("demo-driver")  # holds 粤B12345
GUEST = auth("guest-driver")


def lend(client: Client, guest: str, starts: datetime = STARTS, ends: datetime = ENDS) -> tuple[int, Any]:
    body = {"lot_id": "demo-lot", "host_plate": "粤B12345", "plate": guest}
    return call(
        client,
        "post",
        "/v1/driver/shared-spaces",
        {**body, "starts": starts.isoformat(), "ends": ends.isoformat()},
        OWNER,
    )


@pytest.fixture
def owner_card(client: Client) -> str:
    """粤B12345 (demo-driver's) holds a one-space monthly card."""
    assert call(client, "put", f"{LOT}/card-types/monthly", {"name": "月卡"})[0] == 200
    body = {
        "type_id": "monthly",
        "owner": "张三",
        "plates": ["粤B12345"],
        "valid_until": "2099-01-01T00:00:00Z",
    }
    status, card = call(client, "post", f"{LOT}/cards", body)
    assert status == 201
    return str(card["id"])


def test_the_guest_pays_the_lot_before_the_window_and_the_owner_after_it(
    client: Client, published: Recorder, owner_card: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, made = lend(client, "粤Q00001")
    assert status == 201 and made["status"] == "active" and made["lent_by"] == "demo-driver", made
    local = STARTS.astimezone(ZoneInfo("Asia/Shanghai")), ENDS.astimezone(ZoneInfo("Asia/Shanghai"))
    assert made["label"].startswith(f"{local[0]:%m-%d %H:%M}–") and made["label"].endswith(
        f"{local[1]:%H:%M}"
    )
    # the guest comes an hour early and leaves 40 minutes after the window
    assert enter("粤Q00001", STARTS - timedelta(hours=1))["result"] == "entered"
    v = visit("粤Q00001")
    assert v.entry_remark.startswith(f"共享车位入场 (车主 粤B12345 {made['label']})")
    assert v.identity["kind"] == "shared" and v.identity["shared"]["card_id"] == owner_card
    # the guest's driver asks for the fee at the exit time: 1 h before (2.50 per half hour: 5.00,
    # the lot's), the window free, the marginal fee of the 40 minutes after (5.00, the owner's)
    assert call(client, "post", "/v1/driver/plates", {"plate": "粤Q00001"}, GUEST)[0] == 201
    out_at = ENDS + timedelta(minutes=40)
    monkeypatch.setattr("chalicelib.parking.api.now", lambda: out_at)
    status, quote = call(client, "post", "/v1/driver/quotes", {"plate": "粤Q00001"}, GUEST)
    assert status == 201, quote
    lines = {line["kind"]: line for line in quote["breakdown"]}
    assert [line["kind"] for line in quote["breakdown"]] == ["shared_before", "shared_window", "shared_after"]
    assert (lines["shared_before"]["amount_fen"], lines["shared_before"]["payee"]) == (500, "lot")
    assert lines["shared_window"]["amount_fen"] == 0
    assert (lines["shared_after"]["amount_fen"], lines["shared_after"]["payee"]) == (500, "space_owner")
    assert quote["total_fen"] == quote["due_fen"] == 1000
    out = leave("粤Q00001", out_at)
    assert out["result"] == "payment_required" and out["due_fen"] == 1000
    # the cashier takes it: the visit closes, the after part is the owner's
    monkeypatch.setattr("chalicelib.parking.ops_api.now", lambda: out_at)
    monkeypatch.setattr("chalicelib.parking.booth_api.now", lambda: out_at)
    assert call(client, "post", f"{LOT}/shifts")[0] == 201
    status, _ = call(client, "post", f"{LOT}/visits/{v.visit_id}/cash", {"amount_fen": 1000})
    assert status == 200
    assert visit("粤Q00001").status == EXITED
    postings = {p.kind: p for p in journal.of_subject(f"visit:{v.visit_id}")}
    assert postings["visit_closed"].amount_on("revenue:demo-op:parking") == -1000
    shared = postings["space_owner_share"]
    assert shared.amount_on(f"space_owner:{owner_card}") == -500
    assert shared.amount_on("revenue:demo-op:parking") == 500
    assert checks.run() == []
    # the pass was used by that entry: the next entry in the window is a temporary car's
    enter("粤Q00001", STARTS + timedelta(hours=2))
    assert visit("粤Q00001").identity["kind"] == "temporary"


def test_the_owners_car_in_the_window_is_temporary_and_a_second_window_over_it_is_refused(
    client: Client, published: Recorder, owner_card: str, monkeypatch: Any
) -> None:
    from pynamodb.connection.base import Connection

    status, first = lend(client, "粤Q00002")
    assert status == 201
    assert lend(client, "粤Q00002")[1]["share_id"] == first["share_id"]  # a repeat lends nothing more
    status, refused = lend(client, "粤Q00003", STARTS + timedelta(hours=1), ENDS + timedelta(hours=1))
    assert status == 409 and refused["code"] == "no_space_to_lend"
    assert lend(client, "粤Q00003", ENDS, ENDS + timedelta(hours=1))[0] == 201  # right after: fine
    enter("粤R99999", T0)  # the lot's configuration is cached now
    calls: list[str] = []
    real = Connection._make_api_call

    def counting(self: Connection, operation: str, kwargs: dict[str, Any]) -> Any:
        calls.append(operation)
        return real(self, operation, kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    enter("粤B12345", STARTS + timedelta(minutes=30))
    assert sorted(calls) == ["Query", "TransactWriteItems"]  # as a card holder's entry
    calls.clear()
    enter("粤Q00002", STARTS)
    assert sorted(calls) == ["Query", "TransactWriteItems"]  # the guest's too
    monkeypatch.setattr(Connection, "_make_api_call", real)
    mine = visit("粤B12345")
    assert mine.identity["kind"] == "temporary"
    assert "车位共享中" in mine.entry_remark and "访客 粤Q00002" in mine.entry_remark
    # after the windows the owner's car is the card holder it always was
    leave("粤B12345", STARTS + timedelta(hours=1))
    enter("粤B12345", ENDS + timedelta(hours=2))
    assert visit("粤B12345").identity["kind"] == "card"
    # staff see the lot's windows; another driver sees none of them
    status, listed = call(client, "get", f"{LOT}/shared-spaces")
    assert status == 200 and [i["plate"] for i in listed["items"]] == ["粤Q00003", "粤Q00002"]  # newest first
    status, own = call(client, "get", "/v1/driver/shared-spaces?lot_id=demo-lot", headers=OWNER)
    assert status == 200 and len(own["items"]) == 2
    status, other = call(client, "get", "/v1/driver/shared-spaces?lot_id=demo-lot", headers=GUEST)
    assert status == 200 and other["items"] == []


def test_withdrawn_before_the_start_the_pass_is_gone_and_a_late_guest_is_temporary(
    client: Client, published: Recorder, owner_card: str
) -> None:
    status, made = lend(client, "粤Q00004")
    share = made["share_id"]
    status, gone = call(client, "delete", f"/v1/driver/shared-spaces/{share}?lot_id=demo-lot", headers=GUEST)
    assert status == 404  # not the guest's to withdraw
    status, gone = call(client, "delete", f"/v1/driver/shared-spaces/{share}?lot_id=demo-lot", headers=OWNER)
    assert status == 200 and gone["status"] == "withdrawn" and gone["withdrawn_by"] == "demo-driver"
    enter("粤Q00004", STARTS)
    assert visit("粤Q00004").identity["kind"] == "temporary"
    enter("粤B12345", STARTS + timedelta(minutes=5))  # the space is the owner's again
    assert visit("粤B12345").identity["kind"] == "card"
    # a window staff withdraw is in the audit log, and an entry decided on its pass before does
    # not go through (it decides again); a guest coming after the window's end is temporary
    status, made = lend(client, "粤Q00005")
    lot = config.lot("demo-lot")
    assert lot is not None
    item, _ = identities.lookup("demo-lot", "粤Q00005", 1)
    stale, _ = identities.resolve(lot, "entry-1", "粤Q00005", STARTS, item, False)
    assert stale.kind == "shared"
    status, _ = call(client, "delete", f"{LOT}/shared-spaces/{made['share_id']}")
    assert status == 200
    with pytest.raises(TransactWriteError), transaction() as tx:
        identities.entry_writes(tx, lot, "粤Q00005", stale, None, "v-stale", STARTS)
    entries, _ = audit.query("demo-op", object_type="shared_space", object_id=f"demo-lot/{made['share_id']}")
    assert [e.action for e in entries] == ["withdraw"]
    assert lend(client, "粤Q00006")[0] == 201
    status, refused = call(client, "delete", f"{LOT}/cards/{owner_card}")
    assert status == 409 and refused["code"] == "card_lends_space"  # not cancelled while it lends
    enter("粤Q00006", ENDS + timedelta(minutes=1))
    assert visit("粤Q00006").identity["kind"] == "temporary"
