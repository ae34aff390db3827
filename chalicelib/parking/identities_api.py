"""Who is the car, over HTTP (docs/identities.md). Staff (customer service; an ops admin holds
it): the lot's identity options (precedence, special plates, open-gate mode, arrears blacklist,
group option), card types, cards and several-car groups, list entries (black, white, visitor
passes), lane QR codes. Drivers: lock and unlock their car, scan a lane's QR code (plateless car),
reserve. Another operator's lot answers 404; every staff change is in the audit log."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.parking import identity_admin as admin
from chalicelib.parking import identity_contract as c
from chalicelib.parking import lots, plateless, reservations, shared_spaces, stored_value
from chalicelib.parking.identity_models import CARD, LIST, TYPE
from chalicelib.shared.auth import CASHIER, CUSTOMER_SERVICE, DRIVER, FINANCE, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.errors import NotFound
from chalicelib.shared.http import Routes, ok

routes = Routes()
LOT = "/v1/ops/lots/{lot_id}"
CS = (CUSTOMER_SERVICE,)


def _staff(me: Principal) -> admin.Staff:
    return admin.Staff(me.user_id, me.operator)


def _items(lot_id: str, items: list[dict[str, Any]]) -> Response:
    return ok({"lot_id": lot_id, "items": items})


# --- options ---------------------------------------------------------------------------------------


@routes.route(f"{LOT}/identity-options", "GET", response=c.OptionsOut, errors=[404], auth=STAFF)
def get_options(request: Any, lot_id: str, *, me: Principal) -> Response:
    return ok(admin.options_of(_staff(me), lot_id))


@routes.route(
    f"{LOT}/identity-options",
    "PUT",
    body=c.OptionsIn,
    response=c.OptionsOut,
    errors=[404, 422],
    auth=STAFF,
    roles=CS,
)
def put_options(request: Any, lot_id: str, *, me: Principal, body: c.OptionsIn) -> Response:
    """Precedence, special plate patterns, open-gate mode (常开) for the lot or some lanes, the
    number of unpaid exits that blacklists a plate, and whether a full group's cars enter as
    temporary."""
    return ok(admin.set_options(_staff(me), lot_id, body, now()))


# --- card types and cards -----------------------------------------------------------------------------


@routes.route(f"{LOT}/card-types", "GET", response=c.CardTypesOut, errors=[404], auth=STAFF)
def list_types(request: Any, lot_id: str, *, me: Principal) -> Response:
    return _items(lot_id, admin.listing(_staff(me), lot_id, TYPE))


@routes.route(
    f"{LOT}/card-types/{{type_id}}",
    "PUT",
    body=c.CardTypeIn,
    response=c.CardTypeOut,
    errors=[404, 422],
    auth=STAFF,
    roles=CS,
)
def put_type(request: Any, lot_id: str, type_id: str, *, me: Principal, body: c.CardTypeIn) -> Response:
    """A VIP type (VIP类型): its lane permissions and its own tariff."""
    return ok(admin.put_type(_staff(me), lot_id, type_id, body, now()))


@routes.route(f"{LOT}/cards", "GET", response=c.CardsOut, errors=[404], auth=STAFF)
def list_cards(request: Any, lot_id: str, *, me: Principal) -> Response:
    return _items(lot_id, admin.listing(_staff(me), lot_id, CARD))


@routes.route(
    f"{LOT}/cards",
    "POST",
    body=c.CardIn,
    response=c.CardOut,
    status=201,
    errors=[404, 409, 422],
    auth=STAFF,
    roles=CS,
)
def create_card(request: Any, lot_id: str, *, me: Principal, body: c.CardIn) -> Response:
    """A card for an owner's plates; fewer spaces than plates makes a several-car group."""
    return ok(admin.save_card(_staff(me), lot_id, None, body, now()), status=201)


@routes.route(f"{LOT}/cards/{{card_id}}", "GET", response=c.CardOut, errors=[404], auth=STAFF)
def get_card(request: Any, lot_id: str, card_id: str, *, me: Principal) -> Response:
    return ok(admin.get_one(_staff(me), lot_id, CARD, card_id))


@routes.route(
    f"{LOT}/cards/{{card_id}}",
    "PUT",
    body=c.CardIn,
    response=c.CardOut,
    errors=[404, 409, 422],
    auth=STAFF,
    roles=CS,
)
def update_card(request: Any, lot_id: str, card_id: str, *, me: Principal, body: c.CardIn) -> Response:
    return ok(admin.save_card(_staff(me), lot_id, card_id, body, now()))


@routes.route(
    f"{LOT}/cards/{{card_id}}/top-ups",
    "POST",
    body=c.TopUpIn,
    response=c.TopUpOut,
    errors=[404, 409, 422],
    auth=STAFF,
    roles=(CASHIER, FINANCE),
)
def top_up_card(request: Any, lot_id: str, card_id: str, *, me: Principal, body: c.TopUpIn) -> Response:
    """Load value onto a stored-value card (储值卡充值): the money taken (cash, or a third party's
    transfer) goes onto the card's balance, which exits take fees from; journal posting and audit
    entry with it. A repeated `top_up_id` loads nothing more."""
    return ok(stored_value.top_up(me.user_id, me.operator, lot_id, card_id, body, now()), status=201)


@routes.route(
    f"{LOT}/cards/{{card_id}}", "DELETE", response=c.DeletedOut, errors=[404, 409], auth=STAFF, roles=CS
)
def delete_card(request: Any, lot_id: str, card_id: str, *, me: Principal) -> Response:
    admin.delete_card(_staff(me), lot_id, card_id, now())
    return ok({"lot_id": lot_id, "id": card_id, "deleted": True})


# --- lists and passes ------------------------------------------------------------------------------------


@routes.route(f"{LOT}/lists", "GET", response=c.WindowsOut, errors=[404], auth=STAFF)
def list_lists(request: Any, lot_id: str, *, me: Principal) -> Response:
    """The lot's black/white list entries and visitor passes (and the automatic arrears blacklist)."""
    return _items(lot_id, admin.listing(_staff(me), lot_id, LIST))


@routes.route(
    f"{LOT}/lists",
    "POST",
    body=c.ListIn,
    response=c.WindowOut,
    status=201,
    errors=[404, 422],
    auth=STAFF,
    roles=CS,
)
def add_list(request: Any, lot_id: str, *, me: Principal, body: c.ListIn) -> Response:
    """A blacklist, whitelist or visitor (访客) entry with its window (it reverts by itself when the
    window ends); a visitor pass may be single use."""
    return ok(admin.add_window(_staff(me), lot_id, LIST, body, now()), status=201)


@routes.route(
    f"{LOT}/lists/{{entry_id}}", "DELETE", response=c.DeletedOut, errors=[404], auth=STAFF, roles=CS
)
def remove_list(request: Any, lot_id: str, entry_id: str, *, me: Principal) -> Response:
    admin.remove_window(_staff(me), lot_id, LIST, entry_id, now())
    return ok({"lot_id": lot_id, "id": entry_id, "deleted": True})


# --- lane QR codes, plateless scans, lock ------------------------------------------------------------------


@routes.route(f"{LOT}/lanes/{{lane_id}}/qr", "GET", response=c.QrOut, errors=[404], auth=STAFF)
def lane_qr(request: Any, lot_id: str, lane_id: str, *, me: Principal) -> Response:
    """What to print on the lane's QR code for plateless cars (无牌车)."""
    lots.own(me.operator, lot_id)
    if lane_id not in {lane.lane_id for lane in lots.lanes(lot_id)}:
        raise NotFound("no such lane", "lane_not_found")
    return ok({"lot_id": lot_id, "lane_id": lane_id, "qr": plateless.lane_qr(lot_id, lane_id)})


@routes.route(
    "/v1/driver/plateless/scans",
    "POST",
    body=c.ScanIn,
    response=c.ScanOut,
    errors=[404, 409, 422],
    auth=DRIVER,
)
def plateless_scan(request: Any, *, me: Principal, body: c.ScanIn) -> Response:
    """A plateless car's driver scans the lane's QR code: at an entry the barrier opens and the
    visit is theirs; at the exit it opens when nothing is due (else pay the quote of `plate`)."""
    return ok(plateless.scan(me.user_id, body.lot_id, body.lane_id, body.scan_id, now()))


@routes.route(
    "/v1/driver/locks", "POST", body=c.LockIn, response=c.LockOut, errors=[403, 404, 422], auth=DRIVER
)
def lock_car(request: Any, *, me: Principal, body: c.LockIn) -> Response:
    """Lock (锁车) or unlock one of the driver's cars at a lot: a locked car is held at every exit."""
    return ok(admin.set_lock(me.user_id, body.lot_id, body.plate, body.locked, now()))


@routes.route(
    "/v1/driver/reservations",
    "POST",
    body=c.ReservationIn,
    response=c.ReservationOut,
    status=201,
    errors=[403, 404, 409, 422],
    auth=DRIVER,
)
def reserve(request: Any, *, me: Principal, body: c.ReservationIn) -> Response:
    """A reservation (预约) for a guest plate: approved at once when the inviter holds a card of the
    lot (system approval), or pending an approval by the lot's staff (manual approval)."""
    return ok(reservations.create(me.user_id, body, now()), status=201)


# --- shared spaces (共享车位) -------------------------------------------------------------------------------


@routes.route(
    "/v1/driver/shared-spaces",
    "POST",
    body=c.SharedSpaceIn,
    response=c.SharedSpaceOut,
    status=201,
    errors=[403, 404, 409, 422],
    auth=DRIVER,
)
def lend_space(request: Any, *, me: Principal, body: c.SharedSpaceIn) -> Response:
    """A card owner lends a window of their space to a guest plate (共享车位): the guest enters
    with a pass, parking before the window is the lot's, after it the owner's; the owner's own
    cars have one space fewer while it lasts."""
    return ok(shared_spaces.create(me.user_id, body, now()), status=201)


@routes.route("/v1/driver/shared-spaces", "GET", query=c.LotQuery, response=c.SharedSpacesOut, auth=DRIVER)
def my_shared_spaces(request: Any, *, me: Principal, query: c.LotQuery) -> Response:
    """The caller's shared windows at a lot (those of plates bound to the caller)."""
    return _items(query.lot_id, shared_spaces.list_own(me.user_id, query.lot_id))


@routes.route(
    "/v1/driver/shared-spaces/{share_id}",
    "DELETE",
    query=c.LotQuery,
    response=c.SharedSpaceOut,
    errors=[404, 409],
    auth=DRIVER,
)
def withdraw_space(request: Any, share_id: str, *, me: Principal, query: c.LotQuery) -> Response:
    """Withdraw a window before it starts (its pass is removed; the item keeps who and when)."""
    return ok(shared_spaces.withdraw_own(me.user_id, query.lot_id, share_id, now()))


@routes.route(f"{LOT}/shared-spaces", "GET", response=c.SharedSpacesOut, errors=[404], auth=STAFF)
def lot_shared_spaces(request: Any, lot_id: str, *, me: Principal) -> Response:
    """The lot's shared windows, active and withdrawn."""
    return _items(lot_id, shared_spaces.list_lot(me.operator, lot_id))


@routes.route(
    f"{LOT}/shared-spaces/{{share_id}}",
    "DELETE",
    response=c.SharedSpaceOut,
    errors=[404, 409],
    auth=STAFF,
    roles=CS,
)
def staff_withdraw_space(request: Any, lot_id: str, share_id: str, *, me: Principal) -> Response:
    """Staff withdraw a window whose pass is unused (e.g. before the card is cancelled); audited."""
    return ok(shared_spaces.withdraw_by_staff(me.user_id, me.operator, lot_id, share_id, now()))
