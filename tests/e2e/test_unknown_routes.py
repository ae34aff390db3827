"""A route the API does not have answers in the API's error shape, locally as in AWS (the CDK
stack's gateway responses): 404 with a `code`, never a bare gateway message."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.support import Stack

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("path", ["/v1/no-such-route", "/v1/driver/nothing/here", "/"])
def test_an_unknown_route_is_404_with_a_code(stack: Stack, path: str) -> None:
    answer = requests.get(stack.api + path, timeout=10)
    assert answer.status_code == 404
    body = answer.json()
    assert body["code"] == "not_found" and body["message"]


def test_a_known_route_with_the_wrong_method_keeps_its_code(stack: Stack) -> None:
    answer = requests.delete(stack.api + "/v1/health", timeout=10)
    assert 400 <= answer.status_code < 500
    assert "code" in answer.json()
