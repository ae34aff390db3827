"""Staff roles: a route that needs a role answers 403 `role_required` to staff without it, an
ops_admin holds every role, and the roles count only with the staff group and an operator."""

from __future__ import annotations

import json

import pytest
from chalice import Blueprint, Response
from chalice.app import Chalice
from chalice.test import Client

from chalicelib.shared.auth import CASHIER, CUSTOMER_SERVICE, FINANCE, OPS_ADMIN, ROLES, STAFF, Principal
from chalicelib.shared.http import Routes, register
from tests.support.tokens import auth, staff


def _app() -> Chalice:
    app = Chalice(app_name="roles-test")
    bp = Blueprint(__name__)
    routes = Routes()

    @routes.route("/v1/ops/finance-only", "GET", auth=STAFF, roles=(FINANCE,), response=dict)
    def finance_only(request: object, *, me: Principal) -> Response:
        return Response({"user": me.user_id, "roles": sorted(me.roles)})

    @routes.route("/v1/ops/any-staff", "GET", auth=STAFF, response=dict)
    def any_staff(request: object, *, me: Principal) -> Response:
        return Response({"user": me.user_id})

    register(bp, routes)
    app.register_blueprint(bp)
    return app


@pytest.mark.parametrize(
    ("roles", "status"),
    [((FINANCE,), 200), ((OPS_ADMIN,), 200), ((CUSTOMER_SERVICE, CASHIER), 403), ((), 403)],
)
def test_a_role_gated_route_needs_the_role(roles: tuple[str, ...], status: int) -> None:
    with Client(_app()) as client:
        answer = client.http.get("/v1/ops/finance-only", headers=staff("demo-op", "s1", roles))
        assert answer.status_code == status
        if status == 403:
            assert json.loads(answer.body)["code"] == "role_required"
        # A staff route without a role is open to every staff member of an operator.
        assert client.http.get("/v1/ops/any-staff", headers=staff("demo-op", "s1", roles)).status_code == 200


def test_roles_need_the_staff_group_and_an_operator() -> None:
    with Client(_app()) as client:
        as_driver = auth("d1", ["driver", FINANCE])
        answer = client.http.get("/v1/ops/finance-only", headers=as_driver)
        assert json.loads(answer.body)["code"] == "staff_only"
        no_operator = auth("s1", ["staff", FINANCE])
        assert client.http.get("/v1/ops/finance-only", headers=no_operator).status_code == 403


def test_an_ops_admin_holds_every_role_and_others_only_theirs() -> None:
    admin = Principal("a", frozenset({STAFF, OPS_ADMIN}), "op")
    assert admin.roles == frozenset(ROLES) and admin.has_role(CASHIER)
    cashier = Principal("c", frozenset({STAFF, CASHIER, "something-else"}), "op")
    assert cashier.roles == {CASHIER}
    assert cashier.has_role(CASHIER, FINANCE) and not cashier.has_role(FINANCE)


def test_roles_are_declared_only_on_staff_routes_and_must_be_known() -> None:
    routes = Routes()
    with pytest.raises(ValueError, match="staff routes only"):
        routes.route("/x", "GET", auth="driver", roles=(FINANCE,))
    with pytest.raises(ValueError, match="unknown roles"):
        routes.route("/x", "GET", auth=STAFF, roles=("janitor",))
