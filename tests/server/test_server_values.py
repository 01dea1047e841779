"""Through a real server: a PUT body's version must equal the URL's, text dates are RFC 3339, numbers exact."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
import pytest

from factories import metadata
from modelreg import MetadataError
from modelreg.client import RegistryClient
from support.serverkit import Running

GOOD = json.loads(metadata().to_json())
_names = (f"values-{i}" for i in itertools.count())


@pytest.fixture
def name() -> str:
    """A model name no other test in the module uses."""
    return next(_names)


def _put(http: httpx.Client, name: str, version: str, body: str) -> httpx.Response:
    return http.put(f"/api/v1/models/{name}/versions/{version}", content=body,
                    headers={"Content-Type": "application/json"})


def _body(**changes: Any) -> str:
    return json.dumps({**GOOD, **changes})


def _refused(http: httpx.Client, name: str, response: httpx.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["code"] == code
    for word in words:
        assert word in problem["detail"], problem["detail"]
    assert http.get(f"/api/v1/models/{name}/versions").json()["versions"] == []


@pytest.mark.parametrize(
    ("url_version", "body_version"),
    [("5.0.0", "5.0.0+b"), ("5.0.0+b", "5.0.0"), ("5.0.0+a", "5.0.0+b"), ("5.0.0", "5.0.1")],
)
def test_a_body_version_differing_from_the_url_is_a_422_showing_both(
    http: httpx.Client, name: str, url_version: str, body_version: str
) -> None:
    response = _put(http, name, url_version, _body(version=body_version))
    _refused(http, name, response, 422, "invalid_metadata", repr(body_version), repr(url_version))


def test_a_body_version_equal_to_the_url_is_stored_with_its_build_metadata(http: httpx.Client, name: str) -> None:
    response = _put(http, name, "v5.0.0+b", _body(version="5.0.0+b"))
    assert response.status_code == 201, response.text
    assert http.get(f"/api/v1/models/{name}/versions/5.0.0").json()["version"] == "5.0.0+b"


def test_the_client_gets_the_same_refusal(module_server: Running, name: str) -> None:
    with RegistryClient(module_server.url) as client:
        with pytest.raises(MetadataError, match=r"'5\.0\.0\+b' does not match .* '5\.0\.0'"):
            client.register_model(name, "5.0.0", metadata(version="5.0.0+b"))
        assert client.get_versions(name) == []


@pytest.mark.parametrize(
    ("date", "reason"),
    [
        ("2026-01-05T1234561234567", "not in RFC 3339 form"),
        ("2026-01-05T12:34:56", "no UTC offset"),
        ("2026-01-05\u000012:34:56Z", "use 'T'"),
        ("2026-01-05T12:34:56Z trailing", "not in RFC 3339 form"),
        ("2026-01-05" + "0" * 1_000_000, "characters long"),
        ("2026-01-05T12:34:56.1234567Z", "more than 6 fractional digits"),
    ],
)
def test_a_training_date_outside_rfc_3339_is_a_422(http: httpx.Client, name: str, date: str, reason: str) -> None:
    response = _put(http, name, "1.0.0", _body(training_date=date))
    _refused(http, name, response, 422, "invalid_metadata", "training_date", reason, "RFC 3339")


@pytest.mark.parametrize(
    ("date", "kept"),
    [
        ("2026-01-05T12:34:56Z", "2026-01-05T12:34:56+00:00"),
        ("2026-01-05T14:34:56.5+02:00", "2026-01-05T12:34:56.500000+00:00"),
        ("2026-01-05", "2026-01-05T00:00:00+00:00"),
    ],
)
def test_rfc_3339_training_dates_are_stored_in_utc(http: httpx.Client, name: str, date: str, kept: str) -> None:
    assert _put(http, name, "1.0.0", _body(training_date=date)).status_code == 201
    assert http.get(f"/api/v1/models/{name}/versions/1.0.0").json()["training_date"] == kept


@pytest.mark.parametrize(
    ("number", "reason"),
    [("9007199254740993.0", "nearest 64-bit float is 9007199254740992.0"),
     ("0.1000000000000000000001", "nearest 64-bit float is 0.1"),
     ("1e400", "too large")],
)
@pytest.mark.parametrize("field", ["hyperparameters", "performance_metrics"])
def test_a_number_that_cannot_be_stored_exactly_is_a_400(
    http: httpx.Client, name: str, field: str, number: str, reason: str
) -> None:
    body = _body(**{field: {"n": 1}}).replace('"n": 1', f'"n": {number}')
    _refused(http, name, _put(http, name, "1.0.0", body), 400, "invalid_json", reason)


def test_numbers_written_differently_but_exactly_are_stored(http: httpx.Client, name: str) -> None:
    body = _body(performance_metrics={"a": 1}, hyperparameters={"b": 1}).replace('"a": 1', '"a": 1.50')
    body = body.replace('"b": 1', '"b": 2.50e-3')
    assert _put(http, name, "1.0.0", body).status_code == 201
    got = http.get(f"/api/v1/models/{name}/versions/1.0.0").json()
    assert got["performance_metrics"] == {"a": 1.5}
    assert got["hyperparameters"] == {"b": 0.0025}
