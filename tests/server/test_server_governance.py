"""The policy and promotion routes' own HTTP behaviour: bodies checked field by field, statuses, Location, actor.

What a policy or a promotion does is the conformance suite's (tests/conformance/test_governance.py,
also over HTTP); here is what only the HTTP layer decides.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from factories import metadata
from modelreg import ModelRegistry
from modelreg.client import RegistryClient

POLICY = "/api/v1/models/m/aliases/production/policy"


@pytest.fixture
def tenant(http_tenant: tuple[str, str]) -> Iterator[tuple[str, dict[str, str]]]:
    """The tenant's URL and the tokens admin and (write) ci and alice; model m with 1.0.0 and 1.1.0."""
    url, admin = http_tenant
    base, number = url.rsplit("/t/", 1)
    tokens = {"admin": admin}
    for name in ("ci", "alice"):
        made = httpx.post(f"{base}/tenants/{number}/tokens", json={"name": name, "role": "write"})
        tokens[name] = made.json()["token"]
    with RegistryClient(url, token=admin) as client:
        client.register_model("m", "1.0.0", metadata())
        client.register_model("m", "1.1.0", metadata())
        client.set_alias("m", "production", "1.0.0")
    yield url, tokens


def _http(tenant: tuple[str, dict[str, str]], who: str) -> httpx.Client:
    url, tokens = tenant
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=30)


def test_the_client_is_a_model_registry_again() -> None:
    assert isinstance(RegistryClient("http://127.0.0.1:1"), ModelRegistry)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"require": "metrics.top1 > 0"}, "field 'require' must be an array of strings, not a string"),
        ({"require": {"a": 1}}, "field 'require' must be an array of strings, not an object"),
        ({"approvals": "2"}, "field 'approvals' must be a whole number, not a string"),
        ({"approvals": True}, "field 'approvals' must be a whole number, not a boolean"),
        ({"approvals": -1}, "approvals must be an int from 0 to 20"),
        ({"require": ["metrics.top1 >>= 1"]}, "require[0] 'metrics.top1 >>= 1' is not a valid where expression"),
        ({"must_not_regress": ["tags.team"]}, "must_not_regress[0]"),
        ({"require": [1]}, "require[0] must be a string"),
        ({"approval": 2}, "unknown field(s) 'approval'"),
    ],
)
def test_a_bad_policy_body_is_a_422_naming_the_field_and_sets_nothing(
    tenant: tuple[str, dict[str, str]], body: dict[str, object], says: str
) -> None:
    with _http(tenant, "admin") as http:
        answer = http.put(POLICY, json=body)
        assert answer.status_code == 422, answer.text
        assert says in answer.json()["detail"]
        assert answer.json()["code"] in ("invalid_policy", "invalid_body")
        assert http.get(POLICY).status_code == 404


def test_a_policy_is_put_read_and_deleted_and_a_missing_one_is_policy_not_found(
    tenant: tuple[str, dict[str, str]],
) -> None:
    with _http(tenant, "admin") as http:
        missing = http.get(POLICY)
        assert missing.status_code == 404 and missing.json()["code"] == "policy_not_found"
        body = {"require": ["metrics.top1 >= 0"], "must_not_regress": [], "approvals": 1}
        assert http.put(POLICY, json=body).json() == body
        assert http.get(POLICY).json() == body
        assert http.delete(POLICY).status_code == 204
        assert http.delete(POLICY).json()["code"] == "policy_not_found"


def test_a_request_is_201_with_its_location_and_the_actor_is_the_token_not_the_body(
    tenant: tuple[str, dict[str, str]],
) -> None:
    with _http(tenant, "admin") as http:
        http.put(POLICY, json={"approvals": 1})
    with _http(tenant, "ci") as ci:
        smuggled = ci.post("/api/v1/promotions", json={"name": "m", "alias": "production", "version": "1.1.0",
                                                       "requested_by": "alice"})
        assert smuggled.status_code == 422 and "requested_by" in smuggled.json()["detail"]
        made = ci.post("/api/v1/promotions", json={"name": "m", "alias": "production", "version": "1.1.0"})
        assert made.status_code == 201, made.text
        number = made.json()["id"]
        assert made.headers["location"].endswith(f"/api/v1/promotions/{number}")
        assert made.json()["requested_by"] == "ci"
        assert ci.get(made.headers["location"].rsplit("/t/", 1)[1].split("/", 1)[1]).status_code == 200
    with _http(tenant, "alice") as alice:
        done = alice.post(f"/api/v1/promotions/{number}/approve", json={"actor": "someone-else"})
        assert done.status_code == 200 and done.json()["decided_by"] == "alice"
        assert alice.get("/api/v1/models/m/aliases").json()["aliases"]["production"] == "1.1.0"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("GET", "/api/v1/promotions?state=open", None, 400, "'state' must be one of pending, approved, rejected"),
        ("GET", "/api/v1/promotions/0", None, 400, "a promotion id is a whole number from 1"),
        ("GET", "/api/v1/promotions/abc", None, 400, "not 'abc'"),
        ("POST", "/api/v1/promotions/7/approve", None, 404, "there is no promotion request 7"),
        ("POST", "/api/v1/promotions", {"name": "m", "alias": "production"}, 422, "field 'version' is required"),
        ("POST", "/api/v1/promotions", {"name": 3, "alias": "production", "version": "1.1.0"}, 422,
         "field 'name' must be a model name"),
        ("POST", "/api/v1/promotions/1/reject", {"reason": 5}, 422, "field 'reason' must be a string"),
        ("POST", "/api/v1/promotions", {"name": "m", "alias": "production", "version": "1.0.0"}, 409,
         "points at 1.0.0 already"),
    ],
)
def test_bad_promotion_requests_say_what_was_wrong(
    tenant: tuple[str, dict[str, str]], method: str, path: str, body: object, status: int, says: str
) -> None:
    with _http(tenant, "ci") as ci:
        answer = ci.request(method, path, json=body)
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]


def test_a_write_token_may_not_set_a_policy(tenant: tuple[str, dict[str, str]]) -> None:
    with _http(tenant, "ci") as ci:
        refused = ci.put(POLICY, json={"approvals": 0})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
