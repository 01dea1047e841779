"""Malformed requests get the documented 4xx with a clear message, and change nothing."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from factories import metadata
from modelreg.server import DEFAULT_MAX_BODY_BYTES
from support.serverkit import Running

MAX_BODY = DEFAULT_MAX_BODY_BYTES
GOOD = json.loads(metadata().to_json())


def _with(**changes: Any) -> str:
    return json.dumps({**GOOD, **changes})


@pytest.fixture
def http(module_server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=module_server.url, timeout=10) as client:
        if not client.head("/api/v1/models/bad/versions/1.0.0").is_success:
            client.put("/api/v1/models/bad/versions/1.0.0", content=_with())
            client.put("/api/v1/models/bad/aliases/production", json={"version": "1.0.0"})
        yield client


def _state(http: httpx.Client) -> tuple[object, ...]:
    return (http.get("/api/v1/models").json(), http.get("/api/v1/models/bad/aliases").json(),
            http.get("/api/v1/models/bad/history").json())


def _refused(http: httpx.Client, response: httpx.Response, before: tuple[object, ...], status: int, code: str,
             *words: str) -> None:
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["code"] == code
    for word in words:
        assert word in problem["detail"], problem["detail"]
    assert "Traceback" not in response.text
    assert _state(http) == before


PUT = "/api/v1/models/bad/versions/2.0.0"
BODIES = [
    ("{", 400, "invalid_json", "not valid JSON"),
    ("", 400, "invalid_json", "not valid JSON"),
    ("[1, 2]", 422, "invalid_body", "JSON object"),
    ('"text"', 422, "invalid_body", "JSON object"),
    (_with(performance_metrics={"a": 1}).replace('"a": 1', '"a": NaN'), 400, "invalid_json", "NaN"),
    (_with(performance_metrics={"a": 1}).replace('"a": 1', '"a": Infinity'), 400, "invalid_json", "Infinity"),
    (_with(performance_metrics={"a": 1}).replace('"a": 1', '"a": -Infinity'), 400, "invalid_json", "Infinity"),
    (_with(hyperparameters={"a": 1}).replace('"a": 1', '"a": 1e400'), 400, "invalid_json", "too large"),
    (_with(hyperparameters={"a": 1}).replace('"a": 1', '"a": 1e-400'), 400, "invalid_json", "too small"),
    (_with(performance_metrics={"a": 1}).replace('"a": 1', '"a": -2.5e-330'), 400, "invalid_json", "too small"),
    ('{"artifact_path": "s3://a", "artifact_path": "s3://b", "training_date": "2026-01-05"}', 400,
     "invalid_json", "appears twice"),
    (_with(bogus=1, other=2), 422, "invalid_metadata", "'bogus', 'other'"),
    (json.dumps({"training_date": "2026-01-05T00:00:00+00:00"}), 422, "invalid_metadata", "artifact_path"),
    (_with(training_date=5), 422, "invalid_metadata", "training_date"),
    (_with(training_date="yesterday"), 422, "invalid_metadata", "RFC 3339"),
    (_with(training_date="0001-01-01T00:00:00+05:00"), 422, "invalid_metadata", "range"),
    (_with(performance_metrics="fast"), 422, "invalid_metadata", "performance_metrics"),
    (_with(performance_metrics={"acc": True}), 422, "invalid_metadata", "numbers"),
    (_with(performance_metrics={"acc": 2**64 + 1}), 422, "invalid_metadata", "exactly"),
    (_with(tags={"team": 1}), 422, "invalid_metadata", "tags"),
    (_with(hyperparameters=[1, 2]), 422, "invalid_metadata", "hyperparameters"),
    (_with(description=5), 422, "invalid_metadata", "description"),
    (_with(artifact_path="s3://a\u0000b"), 422, "invalid_metadata", "NUL"),
    (_with(artifact_path="   "), 422, "invalid_metadata", "blank"),
    (_with(description="x" * 10_001), 422, "invalid_metadata", "limit"),
    (_with(version="2.0.1"), 422, "invalid_metadata", "does not match"),
    (_with(version="not-a-version"), 422, "invalid_version", "MAJOR.MINOR.PATCH"),
    (_with(hyperparameters={"deep": json.loads("[" * 40 + "]" * 40)}), 422, "invalid_metadata", "deeper"),
    ('{"hyperparameters": ' + "[" * 50_000 + "]" * 50_000 + "}", 400, "invalid_json", "nests too deeply"),
]


@pytest.mark.parametrize(("body", "status", "code", "words"), [(b, s, c, w) for b, s, c, w in BODIES],
                         ids=[f"{c}-{i}" for i, (_, _, c, _) in enumerate(BODIES)])
def test_bad_register_body_is_refused(http: httpx.Client, body: str, status: int, code: str, words: str) -> None:
    before = _state(http)
    response = http.put(PUT, content=body, headers={"Content-Type": "application/json"})
    _refused(http, response, before, status, code, words)


def test_body_that_is_not_utf8_is_refused(http: httpx.Client) -> None:
    before = _state(http)
    response = http.put(PUT, content=b'{"description": "\xff\xfe"}', headers={"Content-Type": "application/json"})
    _refused(http, response, before, 400, "invalid_json", "UTF-8")


@pytest.mark.parametrize(("ctype", "words"), [
    ("text/plain", "application/json"),
    ("application/merge-patch+json", "application/json"),  # another +json type means another thing
    ("application/problem+json", "application/json"),
    ("application/x-www-form-urlencoded", "application/json"),  # what curl -d sends
    ("application/json; charset=latin-1", "UTF-8"),  # the body is always read as UTF-8
])
def test_body_that_is_not_json_typed_is_refused(http: httpx.Client, ctype: str, words: str) -> None:
    before = _state(http)
    response = http.put(PUT, content=_with(), headers={"Content-Type": ctype})
    _refused(http, response, before, 415, "unsupported_media_type", words)


@pytest.mark.parametrize("ctype", [
    "application/json", "Application/JSON; charset=UTF-8", 'application/json;charset="utf-8"',
])
def test_json_with_or_without_a_utf8_charset_is_accepted(http: httpx.Client, ctype: str) -> None:
    version = f"3.0.{len(ctype)}"
    response = http.put(f"/api/v1/models/ctype/versions/{version}", content=_with(), headers={"Content-Type": ctype})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(("path", "status", "code", "words"), [
    ("/api/v1/models/has%20space/versions/1.0.0", 422, "invalid_name", "letters, digits"),
    ("/api/v1/models/-lead/versions/1.0.0", 422, "invalid_name", "starting with a letter or digit"),
    (f"/api/v1/models/{'x' * 129}/versions/1.0.0", 422, "invalid_name", "1-128"),
    ("/api/v1/models/%C3%BCn%C3%AF/versions/1.0.0", 422, "invalid_name", "ASCII"),
    ("/api/v1/models/bad/versions/01.0.0", 422, "invalid_version", "'01.0.0'"),
    ("/api/v1/models/bad/versions/1.0", 422, "invalid_version", "MAJOR.MINOR.PATCH"),
    ("/api/v1/models/bad/versions/latest", 422, "invalid_version", "MAJOR.MINOR.PATCH"),
    ("/api/v1/models/bad/versions/1.0.0%0A", 422, "invalid_version", "MAJOR.MINOR.PATCH"),
    (f"/api/v1/models/bad/versions/1.0.{'1' * 300}", 422, "invalid_version", "256 characters"),
    # An encoded '/' inside a name or version is one more character it may not hold (docs/server.md says so);
    # one where the route has a fixed segment is a malformed path.
    ("/api/v1/models/a%2Fb/versions/1.0.0", 422, "invalid_name", "letters, digits"),
    ("/api/v1/models/bad/versions/1.0.0%2F1", 422, "invalid_version", "MAJOR.MINOR.PATCH"),
    ("/api/v1%2Fmodels/bad/versions/1.0.0", 400, "invalid_parameter", "encoded '/'"),
])
def test_bad_names_and_versions_in_the_path_are_refused(http: httpx.Client, path: str, status: int, code: str,
                                                       words: str) -> None:
    before = _state(http)
    response = http.put(path, content=_with(), headers={"Content-Type": "application/json"})
    _refused(http, response, before, status, code, words)


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "words"), [
    ("PUT", "/api/v1/models/bad/aliases/staging", '{"version": 1}', 422, "invalid_body", "string version"),
    ("PUT", "/api/v1/models/bad/aliases/staging", '{"version": "1.0.0", "why": 1}', 422, "invalid_body", "'why'"),
    ("PUT", "/api/v1/models/bad/aliases/staging", "{}", 422, "invalid_body", "string version"),
    ("PUT", "/api/v1/models/bad/aliases/v1", '{"version": "1.0.0"}', 422, "invalid_name", "alias"),
    ("PUT", "/api/v1/models/bad/aliases/staging", '{"version": "9.9.9"}', 404, "version_not_found", "9.9.9"),
    ("DELETE", "/api/v1/models/bad/versions/1.0.0?force=yes", None, 400, "invalid_parameter", "'true' or 'false'"),
    ("DELETE", "/api/v1/models/bad/versions/1.0.0?forse=true", None, 400, "invalid_parameter", "'forse'"),
    ("DELETE", "/api/v1/models/bad/versions/1.0.0?force=true&force=true", None, 400, "invalid_parameter",
     "more than once"),
    ("DELETE", "/api/v1/models/bad/versions/1.0.0", None, 409, "version_in_use", "production"),
    ("GET", "/api/v1/models/bad/resolve", None, 400, "invalid_parameter", "spec"),
    ("GET", "/api/v1/models/bad/resolve?spec=%3E%3E1", None, 422, "invalid_version", "range"),
    ("GET", "/api/v1/models/bad/resolve?spec=%C2%85", None, 422, "invalid_version", "ASCII"),
    ("GET", "/api/v1/models/bad/resolve?spec=%1C", None, 422, "invalid_version", "ASCII"),
    ("GET", "/api/v1/models/bad/aliases?page=2", None, 400, "invalid_parameter", "accepts at"),
    ("GET", "/api/v1/models/bad/versions?page=2", None, 400, "invalid_parameter", "accepts at, cursor, limit"),
    ("GET", "/api/v1/models/bad/versions?limit=0", None, 400, "invalid_parameter", "1 to 1000"),
    ("GET", "/api/v1/models/bad/history?cursor=nonsense", None, 400, "invalid_parameter", "next_cursor"),
    ("GET", "/api/v1/search?where=metrics.top1%20%3E%3D", None, 400, "invalid_query", "column"),
    ("PATCH", "/api/v1/models/bad/versions/1.0.0", '{"colour": "red"}', 422, "invalid_body", "'colour'"),
    ("PATCH", "/api/v1/models/bad", '{"add_metrics": {"a": 1}}', 422, "invalid_body", "'add_metrics'"),
    ("PATCH", "/api/v1/models/bad", '{"set_tags": {"a": 1}}', 422, "invalid_metadata", "set_tags['a']"),
    ("PATCH", "/api/v1/models/bad", "[]", 422, "invalid_body", "JSON object"),
    ("DELETE", "/api/v1/models/bad?force=yes", None, 400, "invalid_parameter", "'true' or 'false'"),
    ("GET", "/api/v1/events?since=abc", None, 400, "invalid_parameter", "revision number"),
    ("GET", "/api/v1/events?since=-1", None, 400, "invalid_parameter", "revision number"),
])
def test_bad_requests_are_refused(http: httpx.Client, method: str, path: str, body: str | None, status: int,
                                  code: str, words: str) -> None:
    before = _state(http)
    response = http.request(method, path, content=body, headers={"Content-Type": "application/json"})
    _refused(http, response, before, status, code, words)


def test_bad_last_event_id_is_refused(http: httpx.Client) -> None:
    before = _state(http)
    response = http.get("/api/v1/events", headers={"Last-Event-ID": "seven"})
    _refused(http, response, before, 400, "invalid_parameter", "Last-Event-ID")


def test_body_declared_over_the_limit_is_refused_before_it_is_sent(http: httpx.Client, module_server: Running) -> None:
    before = _state(http)
    address = urlsplit(module_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        # Only the headers go out: the answer must come without the server waiting for the body.
        sock.sendall(f"PUT {PUT} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in head.lower()
    problem = json.loads(body)
    assert problem["code"] == "payload_too_large" and f"{MAX_BODY} bytes" in problem["detail"]
    assert _state(http) == before


def test_streamed_body_over_the_limit_is_refused_while_streaming(http: httpx.Client) -> None:
    before = _state(http)
    sent = []

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must be enforced as bytes arrive
        for _ in range(64):
            sent.append(1)
            yield b" " * 65536

    try:
        response = http.put(PUT, content=chunks(), headers={"Content-Type": "application/json"})
    except httpx.TransportError:  # the server may close the connection before we finish sending
        assert _state(http) == before
        return
    _refused(http, response, before, 413, "payload_too_large", "limit")


def test_body_just_under_the_limit_is_parsed(http: httpx.Client) -> None:
    body = _with(description="x" * 10_000)
    padded = body + " " * (MAX_BODY - len(body))
    response = http.put("/api/v1/models/bad-big/versions/1.0.0", content=padded,
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text
