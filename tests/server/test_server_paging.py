"""The list routes page with ``limit`` and an opaque ``cursor``, and answer as before without them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from support.serverkit import put_version


def _walk(http: httpx.Client, path: str, member: str, limit: int, between: Any = None) -> list[Any]:
    """Every item of a listing, page by page, calling ``between(page_number)`` after each page."""
    found: list[Any] = []
    params: dict[str, str] = {"limit": str(limit)}
    for number in range(1000):
        answer = http.get(path, params=params)
        assert answer.status_code == 200, answer.text
        data = answer.json()
        assert len(data[member]) <= limit
        found += data[member]
        if between is not None:
            between(number)
        if data["next_cursor"] is None:
            return found
        params = {"limit": str(limit), "cursor": data["next_cursor"]}
    raise AssertionError("the pages never ended")


def test_versions_page_in_precedence_order_and_join_up_to_the_whole_list(http: httpx.Client) -> None:
    for version in ["2.0.0", "1.0.0-rc.1", "1.10.0", "1.2.0", "1.0.0", "3.0.0-alpha"]:
        put_version(http, "page-versions", version)
    whole = http.get("/api/v1/models/page-versions/versions").json()

    paged = _walk(http, "/api/v1/models/page-versions/versions", "versions", limit=4)

    assert "next_cursor" not in whole  # without limit/cursor, the answer is exactly what it always was
    assert paged == whole["versions"]
    first = http.get("/api/v1/models/page-versions/versions", params={"limit": "6"}).json()
    assert first["next_cursor"] is None  # the page that holds the last item says so


def test_a_versions_walk_while_versions_come_and_go_skips_and_repeats_nothing(http: httpx.Client) -> None:
    for minor in range(10):
        put_version(http, "page-churn", f"1.{minor}.0")
    steady = {f"1.{minor}.0" for minor in range(10) if minor not in (1, 8)}

    def churn(page: int) -> None:
        if page == 0:
            http.delete("/api/v1/models/page-churn/versions/1.1.0")  # already returned
            http.delete("/api/v1/models/page-churn/versions/1.8.0")  # not yet returned
            put_version(http, "page-churn", "1.0.5")  # behind the cursor: not returned
            put_version(http, "page-churn", "1.9.5")  # ahead of it: returned

    seen = _walk(http, "/api/v1/models/page-churn/versions", "versions", limit=3, between=churn)

    assert len(seen) == len(set(seen))
    assert steady <= set(seen)
    assert "1.9.5" in seen and "1.0.5" not in seen and "1.8.0" not in seen


def test_models_page_by_name_with_their_version_counts(http: httpx.Client) -> None:
    for name in ["page-m-c", "page-m-a", "page-m-b"]:
        put_version(http, name, "1.0.0")
    put_version(http, "page-m-b", "2.0.0")
    whole = http.get("/api/v1/models").json()

    paged = _walk(http, "/api/v1/models", "models", limit=2)

    assert "next_cursor" not in whole
    assert paged == whole["models"]
    assert {"name": "page-m-b", "versions": 2} in paged


def test_history_pages_by_revision(http: httpx.Client) -> None:
    for patch in range(5):
        put_version(http, "page-history", f"1.0.{patch}")
    http.put("/api/v1/models/page-history/aliases/production", json={"version": "1.0.2"})
    whole = http.get("/api/v1/models/page-history/history").json()

    paged = _walk(http, "/api/v1/models/page-history/history", "events", limit=2)

    assert "next_cursor" not in whole
    assert paged == whole["events"] and len(paged) == 6


def test_a_cursor_without_a_limit_pages_by_the_default_and_an_empty_one_starts_over(http: httpx.Client) -> None:
    put_version(http, "page-default", "1.0.0")

    answer = http.get("/api/v1/models/page-default/versions", params={"cursor": ""})

    assert answer.status_code == 200
    assert answer.json() == {"name": "page-default", "versions": ["1.0.0"], "next_cursor": None}


@pytest.mark.parametrize(("path", "params", "words"), [
    ("/api/v1/models", {"limit": "1001"}, "from 1 to 1000"),
    ("/api/v1/models", {"limit": "two"}, "from 1 to 1000"),
    ("/api/v1/models", {"cursor": "%%%"}, "not a cursor of this listing"),
    ("/api/v1/models/page-bad/history", {"cursor": "eyJhIjoxfQ"}, "not a cursor of this listing"),
])
def test_a_bad_limit_or_cursor_is_a_400_invalid_parameter(http: httpx.Client, path: str, params: dict[str, str],
                                                          words: str) -> None:
    answer = http.get(path, params=params)

    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_parameter"
    assert words in answer.json()["detail"]


def test_a_cursor_of_one_listing_is_refused_by_another(http: httpx.Client) -> None:
    for version in ["1.0.0", "2.0.0"]:
        put_version(http, "page-own-a", version)
        put_version(http, "page-own-b", version)
    cursor = http.get("/api/v1/models/page-own-a/versions", params={"limit": "1"}).json()["next_cursor"]

    other_model = http.get("/api/v1/models/page-own-b/versions", params={"cursor": cursor})
    other_route = http.get("/api/v1/models/page-own-a/history", params={"cursor": cursor})

    assert (other_model.status_code, other_route.status_code) == (400, 400)
    assert other_model.json()["code"] == other_route.json()["code"] == "invalid_parameter"


def _write_moves(http: httpx.Client, name: str) -> None:
    for patch in range(4):
        put_version(http, name, f"1.0.{patch}")
    for patch in [0, 1, 2, 3, 1, 2]:
        http.put(f"/api/v1/models/{name}/aliases/production", json={"version": f"1.0.{patch}"})


@pytest.mark.parametrize(("name", "params"), [
    ("page-filtered-kinds", {"kinds": "alias_set,alias_removed"}),
    ("page-filtered-version", {"version": "1.0.1"}),
    ("page-filtered-both", {"version": "1.0.2", "kinds": "alias_set"}),
])
def test_history_pages_through_filtered_events_only(http: httpx.Client, name: str, params: dict[str, str]) -> None:
    _write_moves(http, name)
    path = f"/api/v1/models/{name}/history"
    whole = http.get(path, params=params).json()["events"]

    found: list[Any] = []
    page: dict[str, str] = {**params, "limit": "2"}
    while True:
        data = http.get(path, params=page).json()
        found += data["events"]
        if data["next_cursor"] is None:
            break
        page = {**params, "limit": "2", "cursor": data["next_cursor"]}

    assert found == whole and len(found) >= 2
    assert [e["revision"] for e in found] == sorted({e["revision"] for e in found})
    if "kinds" in params:
        assert {e["kind"] for e in found} <= set(params["kinds"].split(","))
    if "version" in params:
        assert {e["version"] for e in found} == {params["version"]}


def test_a_history_cursor_continues_only_the_filter_it_came_from(http: httpx.Client) -> None:
    _write_moves(http, "page-filter-own")
    path = "/api/v1/models/page-filter-own/history"
    cursor = http.get(path, params={"kinds": "alias_set", "limit": "1"}).json()["next_cursor"]

    same = http.get(path, params={"kinds": "alias_set", "cursor": cursor})
    unfiltered = http.get(path, params={"cursor": cursor})
    other_kinds = http.get(path, params={"kinds": "alias_set,registered", "cursor": cursor})
    with_version = http.get(path, params={"kinds": "alias_set", "version": "1.0.0", "cursor": cursor})

    assert same.status_code == 200
    assert [r.status_code for r in (unfiltered, other_kinds, with_version)] == [400, 400, 400]
    assert {r.json()["code"] for r in (unfiltered, other_kinds, with_version)} == {"invalid_parameter"}


@pytest.mark.parametrize(("params", "status", "code", "words"), [
    ({"kinds": "alias_set,moved"}, 400, "invalid_query", "unknown event kind(s) 'moved'; the kinds are registered"),
    ({"kinds": "alias_set,"}, 400, "invalid_query", "unknown event kind(s) ''"),
    ({"version": "1.0"}, 422, "invalid_version", "1.0"),
    ({"versions": "1.0.0"}, 400, "invalid_parameter", "versions"),
])
def test_bad_history_filters_are_refused_with_what_was_wrong(
    http: httpx.Client, params: dict[str, str], status: int, code: str, words: str
) -> None:
    answer = http.get("/api/v1/models/page-filter-bad/history", params=params)

    assert answer.status_code == status, answer.text
    assert answer.json()["code"] == code
    assert words in answer.json()["detail"]


def test_an_empty_kinds_parameter_returns_no_events(http: httpx.Client) -> None:
    put_version(http, "page-filter-empty", "1.0.0")

    answer = http.get("/api/v1/models/page-filter-empty/history", params={"kinds": ""})

    assert answer.status_code == 200
    assert answer.json() == {"name": "page-filter-empty", "events": []}
