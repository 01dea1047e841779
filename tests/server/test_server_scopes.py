"""Scoped tokens against a real server: every route of ``ROUTES`` with an unscoped and a scoped token.

In scope a route works as for an unscoped token; out of scope it answers exactly what a missing
model answers (a write that would create one: 403), whether or not the model exists, and
changes nothing; lists, search, changes, the event stream and metrics carry only the scope's models.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from factories import metadata
from fixtures.http_backend import ServerProcess, serve_command
from modelreg.server.auth import hash_token, load_auth
from modelreg.server.routes import ROUTES
from support import pgserver
from support.serverkit import Running, registry_url

SECRETS = {"all": "tok-all-0123456789", "scoped": "tok-scoped-0123456789"}
SCOPE = ["vis-*", "bert"]
BODY = metadata().to_json()
_serial = itertools.count()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """``modelreg serve`` over SQLite, then PostgreSQL, with two admin tokens: 'all' and 'scoped' (vis-*, bert)."""
    directory = tmp_path_factory.mktemp("scoped-server")
    tokens = directory / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [
        {"name": "all", "role": "admin", "sha256": hash_token(SECRETS["all"])},
        {"name": "scoped", "role": "admin", "sha256": hash_token(SECRETS["scoped"]), "models": SCOPE},
    ]}))
    with contextlib.ExitStack() as stack:
        if request.param == "postgresql":  # a schema of this module's own, in the suite's PostgreSQL server
            admin = request.getfixturevalue("postgres_admin")
            schema = f"modelreg_scopes_{os.getpid()}"
            admin.execute(f"CREATE SCHEMA {schema}")
            stack.callback(admin.execute, f"DROP SCHEMA {schema} CASCADE")
            url = pgserver.with_search_path(request.getfixturevalue("postgres_url"), schema)
        else:
            url = registry_url(directory)
        process = ServerProcess(serve_command(url, tokens_file=str(tokens)), directory / "server.log")
        stack.callback(process.stop)
        yield Running(process, process.wait_listening(), url)


@pytest.fixture(scope="module")
def http(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def send(http: httpx.Client, who: str, method: str, path: str, body: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {SECRETS[who]}", "Content-Type": "application/json"}
    return http.request(method, path, content=body, headers=headers)


def seed(http: httpx.Client, name: str) -> None:
    """A model with 1.0.0 and 1.1.0, 'production' on 1.0.0, and a description (written by the unscoped token)."""
    for version in ("1.0.0", "1.1.0"):
        assert send(http, "all", "PUT", f"/api/v1/models/{name}/versions/{version}", BODY).status_code == 201
    assert send(http, "all", "PUT", f"/api/v1/models/{name}/aliases/production", '{"version": "1.0.0"}').status_code \
        == 204
    assert send(http, "all", "PATCH", f"/api/v1/models/{name}", '{"description": "seeded"}').status_code == 200


def revision(http: httpx.Client) -> int:
    return int(send(http, "all", "GET", "/api/v1/changes").json()["revision"])


@dataclass(frozen=True)
class Sample:
    """One request to a model route: the path after the model's (``/versions/1.0.0``), its query and body."""

    rest: str
    query: str = ""
    body: str | None = None


# A sample request for each method of each route about one model; a new route fails the matrix until it has one.
SAMPLES: dict[tuple[str, str], list[Sample]] = {
    ("/api/v1/models/{name}", "GET"): [Sample("")],
    ("/api/v1/models/{name}", "PATCH"): [Sample("", body='{"description": "mine now"}')],
    ("/api/v1/models/{name}", "DELETE"): [Sample(""), Sample("", "?force=true")],
    ("/api/v1/models/{name}/versions", "GET"): [Sample("/versions"), Sample("/versions", "?limit=1")],
    ("/api/v1/models/{name}/versions/{version}", "GET"): [Sample("/versions/1.0.0"), Sample("/versions/9.0.0")],
    ("/api/v1/models/{name}/versions/{version}", "HEAD"): [Sample("/versions/1.0.0")],
    ("/api/v1/models/{name}/versions/{version}", "PUT"): [
        Sample("/versions/2.0.0", body=BODY), Sample("/versions/1.0.0", body=BODY),  # new, and a 409 in scope
    ],
    ("/api/v1/models/{name}/versions/{version}", "PATCH"): [Sample("/versions/1.0.0", body='{"set_tags": {"a": "b"}}')],
    ("/api/v1/models/{name}/versions/{version}", "DELETE"): [Sample("/versions/1.1.0"),
                                                             Sample("/versions/1.0.0", "?force=true")],
    ("/api/v1/models/{name}/resolve", "GET"): [Sample("/resolve", "?spec=production"), Sample("/resolve", "?spec=^1")],
    ("/api/v1/models/{name}/aliases", "GET"): [Sample("/aliases")],
    ("/api/v1/models/{name}/aliases/{alias}", "PUT"): [Sample("/aliases/staging", body='{"version": "1.1.0"}')],
    ("/api/v1/models/{name}/aliases/{alias}", "DELETE"): [Sample("/aliases/production")],
    ("/api/v1/models/{name}/history", "GET"): [Sample("/history"), Sample("/history", "?limit=1&kinds=registered")],
    ("/api/v1/models/{name}/aliases/{alias}/policy", "GET"): [Sample("/aliases/production/policy")],
    ("/api/v1/models/{name}/aliases/{alias}/policy", "PUT"): [
        Sample("/aliases/staging/policy", body='{"require": ["metrics.top1 >= 0"]}'),
    ],
    ("/api/v1/models/{name}/aliases/{alias}/policy", "DELETE"): [Sample("/aliases/production/policy")],
}
# Out of scope: 403, existing or not (a policy may be set before the model's first version, so setting one creates).
CREATES = {("/api/v1/models/{name}/versions/{version}", "PUT"), ("/api/v1/models/{name}/aliases/{alias}/policy", "PUT")}

MODEL_ROUTES = [(route.template, method) for route in ROUTES if route.model is not None for method in route.methods]
OTHER_ROUTES = [(route.template, method) for route in ROUTES if route.model is None for method in route.methods]


def names() -> tuple[str, str, str]:
    """Fresh names of one length: in scope, out of scope, and one out of scope that does not exist."""
    n = next(_serial)
    return f"vis-{n:04d}", f"sec-{n:04d}", f"gho-{n:04d}"


def answer(response: httpx.Response, name: str) -> tuple[int, str, bytes]:
    """What a response says, with the model's name taken out (so two models' answers compare)."""
    return response.status_code, response.headers.get("content-type", ""), response.content.replace(
        name.encode(), b"MODEL")


MODEL_CASES = [(t, m, sample) for t, m in MODEL_ROUTES for sample in SAMPLES.get((t, m), [None])]


def ask(http: httpx.Client, who: str, method: str, name: str, sample: Sample) -> httpx.Response:
    return send(http, who, method, f"/api/v1/models/{name}{sample.rest}{sample.query}", sample.body)


@pytest.mark.parametrize(("template", "method", "sample"), MODEL_CASES,
                         ids=[f"{m} {t} {s.rest}{s.query}" if s else f"{m} {t}" for t, m, s in MODEL_CASES])
def test_every_model_route_hides_models_outside_the_scope(
    http: httpx.Client, template: str, method: str, sample: Sample | None
) -> None:
    assert sample is not None, f"add a sample request for {method} {template} to SAMPLES"
    inside, outside, missing = names()
    seed(http, inside)
    seed(http, outside)
    before = revision(http)
    hidden, absent = ask(http, "scoped", method, outside, sample), ask(http, "scoped", method, missing, sample)
    assert revision(http) == before, "a scoped token changed a model outside its scope"
    assert answer(hidden, outside) == answer(absent, missing), "the answer tells an unseen model from a missing one"
    if (template, method) in CREATES:
        assert hidden.status_code == 403 and hidden.json()["code"] == "forbidden"
    else:
        assert hidden.status_code in (200, 404), hidden.text  # e.g. an empty history, or not found
        missing_for_all = ask(http, "all", method, missing, sample)
        assert answer(hidden, outside) == answer(missing_for_all, missing), "not what a missing model answers"
    assert send(http, "all", "GET", f"/api/v1/models/{outside}").json()["description"] == "seeded"
    # In scope the scoped token gets what the unscoped one gets on a model just like it.
    twin, *_ = names()
    seed(http, twin)
    mine, theirs = ask(http, "scoped", method, inside, sample), ask(http, "all", method, twin, sample)
    assert mine.status_code == theirs.status_code, (mine.text, theirs.text)  # 2xx, or a 409 both get
    if mine.headers.get("content-type") == "application/problem+json":
        assert mine.json()["code"] == theirs.json()["code"]


def test_every_route_that_names_no_model_is_checked_below() -> None:
    checked = {
        ("/api/v1/models", "GET"), ("/api/v1/search", "GET"), ("/api/v1/events", "GET"), ("/api/v1/changes", "GET"),
        ("/metrics", "GET"), ("/healthz", "GET"), ("/readyz", "GET"), ("/openapi.json", "GET"), ("/docs", "GET"),
        ("/api/v1/promotions", "GET"), ("/api/v1/promotions", "POST"), ("/api/v1/promotions/{id}", "GET"),
        ("/api/v1/promotions/{id}/approve", "POST"), ("/api/v1/promotions/{id}/reject", "POST"),
        ("/api/v1/snapshot", "GET"),  # tests/server/test_server_snapshot.py
        # tests/server/test_server_webhooks.py: a scoped token may not manage webhooks (403)
        ("/api/v1/webhooks", "GET"), ("/api/v1/webhooks", "POST"), ("/api/v1/webhooks/{id}", "GET"),
        ("/api/v1/webhooks/{id}", "DELETE"), ("/api/v1/webhooks/{id}/deliveries", "GET"),
        ("/api/v1/webhooks/{id}/test", "POST"),
    }
    assert set(OTHER_ROUTES) <= checked, f"routes without a scope test: {sorted(set(OTHER_ROUTES) - checked)}"


def _requested(http: httpx.Client, name: str) -> int:
    """A pending request (by the unscoped token) to point ``name``'s production at 1.1.0, under a 1-approval policy."""
    policy = send(http, "all", "PUT", f"/api/v1/models/{name}/aliases/production/policy", '{"approvals": 1}')
    assert policy.status_code == 200, policy.text
    made = send(http, "all", "POST", "/api/v1/promotions",
                json.dumps({"name": name, "alias": "production", "version": "1.1.0", "reason": "r"}))
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


def test_promotions_of_models_outside_the_scope_answer_as_requests_that_do_not_exist(http: httpx.Client) -> None:
    inside, outside, missing = names()
    seed(http, inside)
    seed(http, outside)
    mine, theirs = _requested(http, inside), _requested(http, outside)
    nothing = theirs + 1000  # no such request
    listed = [r["id"] for r in send(http, "scoped", "GET", "/api/v1/promotions").json()["promotions"]]
    assert mine in listed and theirs not in listed
    assert send(http, "scoped", "GET", f"/api/v1/promotions?name={outside}").json() == {"promotions": []}
    before = revision(http)
    for method, rest, body in [("GET", "", None), ("POST", "/approve", None), ("POST", "/reject", '{"reason": "x"}')]:
        hidden = send(http, "scoped", method, f"/api/v1/promotions/{theirs}{rest}", body)
        absent = send(http, "scoped", method, f"/api/v1/promotions/{nothing}{rest}", body)
        assert hidden.status_code == 404 and hidden.json()["code"] == "promotion_not_found"
        assert hidden.content.replace(str(theirs).encode(), b"N") == absent.content.replace(str(nothing).encode(), b"N")
    ask_for = {"alias": "production", "version": "1.1.0"}
    hidden = send(http, "scoped", "POST", "/api/v1/promotions", json.dumps({"name": outside, **ask_for}))
    absent = send(http, "scoped", "POST", "/api/v1/promotions", json.dumps({"name": missing, **ask_for}))
    assert hidden.status_code == 404 and answer(hidden, outside) == answer(absent, missing)
    assert revision(http) == before, "a scoped token changed a model outside its scope"
    approved = send(http, "scoped", "POST", f"/api/v1/promotions/{mine}/approve")  # in scope it works
    assert approved.status_code == 200 and approved.json()["state"] == "approved", approved.text
    assert approved.json()["decided_by"] == "scoped"


def test_the_model_list_and_its_pages_hold_only_the_scope(http: httpx.Client) -> None:
    inside, outside, *_ = names()
    seed(http, inside)
    seed(http, outside)
    seed(http, "bert")
    listed = [m["name"] for m in send(http, "scoped", "GET", "/api/v1/models").json()["models"]]
    assert inside in listed and "bert" in listed and all(n.startswith("vis-") or n == "bert" for n in listed)
    everyone = [m["name"] for m in send(http, "all", "GET", "/api/v1/models").json()["models"]]
    assert outside in everyone and outside not in listed
    paged, cursor = [], ""
    while cursor is not None:
        page = send(http, "scoped", "GET", f"/api/v1/models?limit=1&cursor={cursor}").json()
        paged += [m["name"] for m in page["models"]]
        cursor = page["next_cursor"]
    assert paged == listed


def test_search_items_totals_and_cursors_count_only_the_scope(http: httpx.Client) -> None:
    inside, outside, missing = names()
    seed(http, inside)
    seed(http, outside)
    where = "description = 'seeded' or version >= '0.0.0'"
    found = send(http, "scoped", "GET", f"/api/v1/search?where={where}&limit=1").json()
    visible = [m for m in send(http, "scoped", "GET", "/api/v1/models").json()["models"]]
    assert found["total"] == sum(m["versions"] for m in visible)
    items, cursor = [], None
    while True:
        query = f"/api/v1/search?where={where}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = send(http, "scoped", "GET", query).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(items) == found["total"] and {i["name"] for i in items} == {m["name"] for m in visible}
    assert all(not i["name"].startswith("sec-") for i in items)
    hidden = send(http, "scoped", "GET", f"/api/v1/search?name={outside}")
    absent = send(http, "scoped", "GET", f"/api/v1/search?name={missing}")
    assert hidden.status_code == 200 and hidden.json() == absent.json() == {"items": [], "next_cursor": None,
                                                                            "total": 0}


def test_changes_carry_only_the_scope_and_page_past_other_models(http: httpx.Client) -> None:
    start = revision(http)
    inside, outside, *_ = names()
    seed(http, outside)
    seed(http, inside)
    seed(http, outside + "b")
    page = send(http, "scoped", "GET", f"/api/v1/changes?after={start}&limit=2").json()
    assert [e["name"] for e in page["events"]] == [inside, inside]  # read past the 4 events of the other model
    every = send(http, "scoped", "GET", f"/api/v1/changes?after={start}").json()
    assert {e["name"] for e in every["events"]} == {inside} and len(every["events"]) == 4


def test_the_event_stream_carries_only_the_scope(http: httpx.Client) -> None:
    start = revision(http)
    inside, outside, *_ = names()
    seed(http, outside)
    seed(http, inside)
    last = revision(http)
    seen: list[dict[str, object]] = []
    headers = {"Authorization": f"Bearer {SECRETS['scoped']}"}
    with http.stream("GET", f"/api/v1/events?since={start}", headers=headers) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: ") and '"kind"' in line:
                seen.append(json.loads(line[6:]))
                if seen[-1]["revision"] == last:
                    break
    assert {e["name"] for e in seen} == {inside} and len(seen) == 4


def test_metrics_count_only_the_scope(http: httpx.Client) -> None:
    inside, outside, *_ = names()
    seed(http, inside)
    seed(http, outside)

    def models(who: str) -> float:
        text = send(http, who, "GET", "/metrics").text
        return float(next(line.split()[1] for line in text.splitlines() if line.startswith("modelreg_models ")))

    scoped = [m for m in send(http, "scoped", "GET", "/api/v1/models").json()["models"]]
    assert models("scoped") == len(scoped) < models("all")


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json", "/docs"])
def test_routes_about_no_model_answer_a_scoped_token_as_any_other(http: httpx.Client, path: str) -> None:
    assert send(http, "scoped", "GET", path).status_code == send(http, "all", "GET", path).status_code == 200


def test_a_scoped_token_registers_in_scope_and_is_refused_outside_it(http: httpx.Client) -> None:
    inside, outside, *_ = names()
    created = send(http, "scoped", "PUT", f"/api/v1/models/{inside}/versions/1.0.0", BODY)
    assert created.status_code == 201
    refused = send(http, "scoped", "PUT", f"/api/v1/models/{outside}/versions/1.0.0", BODY)
    assert refused.status_code == 403 and "scope" in refused.json()["detail"]
    assert send(http, "all", "GET", f"/api/v1/models/{outside}/versions").json()["versions"] == []
    assert outside not in refused.text


def test_a_bad_models_pattern_is_refused_when_the_server_loads_the_file(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"tokens": [
        {"name": "bad", "role": "read", "sha256": hash_token("tok-bad-0123456789"), "models": ["vis/*"]},
    ]}))
    with pytest.raises(ValueError, match=r"tokens\.json.*token #1.*models pattern 'vis/\*'"):
        load_auth(tokens)
