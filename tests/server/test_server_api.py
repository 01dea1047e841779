"""Every route of the API, over real HTTP against a ``serve()`` process."""

from __future__ import annotations

import json
import re
import socket
from typing import Any

import httpx
import pytest

from factories import metadata, wait_until
from modelreg.server.openapi import document
from modelreg.server.routes import ROUTES
from support.serverkit import Running


def _body(**overrides: Any) -> str:
    return metadata(**overrides).to_json()


def _put(http: httpx.Client, name: str, version: str, **overrides: Any) -> httpx.Response:
    return http.put(f"/api/v1/models/{name}/versions/{version}", content=_body(**overrides),
                    headers={"Content-Type": "application/json"})


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["code"] == code
    assert problem["type"] == f"urn:modelreg:problem:{code}"
    assert problem["title"] and problem["detail"]
    return dict(problem)


def test_register_answers_201_with_location_and_the_stored_metadata(http: httpx.Client) -> None:
    response = _put(http, "api-reg", "v1.2.0+build.7")

    assert response.status_code == 201
    assert response.headers["location"] == "/api/v1/models/api-reg/versions/1.2.0%2Bbuild.7"
    stored = response.json()
    assert stored["version"] == "1.2.0+build.7"
    assert stored == {**json.loads(_body()), "version": "1.2.0+build.7"}


def test_metadata_comes_back_exactly_as_sent(http: httpx.Client) -> None:
    hyper = {"big": 2**62 + 1, "tiny": 5e-324, "unicode": "Zürich ✓ 🚀", "nested": {"list": [1, 2.5, None, True]}}
    _put(http, "api-exact", "1.0.0", hyperparameters=hyper, description="line1\nline2")

    got = http.get("/api/v1/models/api-exact/versions/1.0.0")

    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    assert got.json()["hyperparameters"] == hyper
    assert got.json()["description"] == "line1\nline2"
    assert http.get("/api/v1/models/api-exact/versions/v1.0.0").json() == got.json()


def test_head_answers_whether_a_version_exists_without_a_body(http: httpx.Client) -> None:
    _put(http, "api-head", "1.0.0")

    present = http.head("/api/v1/models/api-head/versions/1.0.0+any")
    absent = http.head("/api/v1/models/api-head/versions/2.0.0")

    assert (present.status_code, present.content) == (200, b"")
    assert (absent.status_code, absent.content) == (404, b"")
    assert absent.headers["content-type"] == "application/problem+json"


def test_versions_are_listed_in_precedence_order(http: httpx.Client) -> None:
    for version in ["2.0.0", "1.0.0-rc.1", "1.10.0", "1.2.0"]:
        _put(http, "api-order", version)

    assert http.get("/api/v1/models/api-order/versions").json() == {
        "name": "api-order", "versions": ["1.0.0-rc.1", "1.2.0", "1.10.0", "2.0.0"]}
    assert http.get("/api/v1/models/api-nothing/versions").json() == {"name": "api-nothing", "versions": []}


def test_models_are_listed_with_their_version_counts(http: httpx.Client) -> None:
    _put(http, "api-count", "1.0.0")
    _put(http, "api-count", "1.1.0")

    models = http.get("/api/v1/models").json()["models"]

    assert {"name": "api-count", "versions": 2} in models
    assert [m["name"] for m in models] == sorted(m["name"] for m in models)


@pytest.mark.parametrize(("spec", "expected"), [("^1.2", "1.10.1+build"), ("~1.2.0", "1.2.5"),
                                               (">=1.0.0 <1.2.5", "1.2.0"), ("=1.10.1+build", "1.10.1+build"),
                                               ("latest", "1.10.1+build"), ("production", "1.2.0")])
def test_resolve_answers_the_matching_versions_metadata(http: httpx.Client, spec: str, expected: str) -> None:
    if not http.head("/api/v1/models/api-resolve/versions/1.2.0").is_success:
        for version in ["1.0.0", "1.2.0", "1.2.5", "1.10.1+build"]:
            _put(http, "api-resolve", version)
        http.put("/api/v1/models/api-resolve/aliases/production", json={"version": "1.2.0"})

    response = http.get("/api/v1/models/api-resolve/resolve", params={"spec": spec})

    assert response.status_code == 200, response.text
    assert response.json()["version"] == expected


def test_aliases_can_be_set_moved_listed_and_removed(http: httpx.Client) -> None:
    _put(http, "api-alias", "1.0.0")
    _put(http, "api-alias", "2.0.0")

    assert http.put("/api/v1/models/api-alias/aliases/production", json={"version": "v1.0.0"}).status_code == 204
    assert http.put("/api/v1/models/api-alias/aliases/production", json={"version": "2.0.0"}).status_code == 204
    assert http.get("/api/v1/models/api-alias/aliases").json() == {"name": "api-alias",
                                                                   "aliases": {"production": "2.0.0"}}
    assert http.delete("/api/v1/models/api-alias/aliases/production").status_code == 204
    assert http.get("/api/v1/models/api-alias/aliases").json()["aliases"] == {}
    _problem(http.delete("/api/v1/models/api-alias/aliases/production"), 404, "alias_not_found")


def test_unregister_refuses_an_aliased_version_unless_forced(http: httpx.Client) -> None:
    _put(http, "api-force", "1.0.0")
    http.put("/api/v1/models/api-force/aliases/staging", json={"version": "1.0.0"})

    problem = _problem(http.delete("/api/v1/models/api-force/versions/1.0.0"), 409, "version_in_use")
    assert "staging" in problem["detail"] and problem["name"] == "api-force"
    assert http.head("/api/v1/models/api-force/versions/1.0.0").status_code == 200

    assert http.delete("/api/v1/models/api-force/versions/1.0.0", params={"force": "true"}).status_code == 204
    assert http.get("/api/v1/models/api-force/versions").json()["versions"] == []


def test_history_lists_the_models_changes_with_their_actor(http: httpx.Client) -> None:
    _put(http, "api-hist", "1.0.0")
    http.put("/api/v1/models/api-hist/aliases/production", json={"version": "1.0.0"})
    http.delete("/api/v1/models/api-hist/versions/1.0.0", params={"force": "true"})

    events = http.get("/api/v1/models/api-hist/history").json()["events"]

    assert [(e["kind"], e["version"], e["alias"]) for e in events] == [
        ("registered", "1.0.0", None), ("alias_set", "1.0.0", "production"),
        ("alias_removed", "1.0.0", "production"), ("unregistered", "1.0.0", None)]
    assert {e["actor"] for e in events} == {"anonymous"}
    assert [e["revision"] for e in events] == sorted(e["revision"] for e in events)


@pytest.mark.parametrize(("method", "path", "status", "code"), [
    ("GET", "/api/v1/models/api-none/versions/1.0.0", 404, "version_not_found"),
    ("DELETE", "/api/v1/models/api-none/versions/1.0.0", 404, "version_not_found"),
    ("GET", "/api/v1/models/api-none/resolve?spec=^1", 404, "version_not_found"),
    ("GET", "/api/v1/models/api-none/versions/1.0", 422, "invalid_version"),
    ("GET", "/api/v1/models/-bad/versions", 422, "invalid_name"),
    ("GET", "/api/v1/models/slash%2Fname/versions", 422, "invalid_name"),
    ("PUT", "/api/v1/models/api-none/aliases/latest", 422, "invalid_name"),
    ("GET", "/nowhere", 404, "not_found"),
    ("POST", "/api/v1/models", 405, "method_not_allowed"),
])
def test_errors_are_problem_documents_with_stable_codes(http: httpx.Client, method: str, path: str, status: int,
                                                        code: str) -> None:
    response = http.request(method, path, json={"version": "1.0.0"} if method == "PUT" else None)

    _problem(response, status, code)
    if status == 405:
        assert response.headers["allow"] == "GET, HEAD"


def test_duplicate_registration_is_a_409_naming_the_existing_version(http: httpx.Client) -> None:
    _put(http, "api-dup", "1.0.0+a")

    problem = _problem(_put(http, "api-dup", "v1.0.0+b"), 409, "duplicate_version")

    assert "1.0.0+a" in problem["detail"]
    assert (problem["name"], problem["version"]) == ("api-dup", "1.0.0+b")


def test_health_and_readiness_probes_answer(http: httpx.Client) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    assert http.get("/readyz").json() == {"status": "ready"}


def test_metrics_count_requests_by_route_template_and_report_registry_size(http: httpx.Client) -> None:
    _put(http, "api-metrics", "1.0.0")
    http.get("/api/v1/models/api-metrics/versions/1.0.0")
    http.get("/api/v1/models/api-metrics/versions/9.9.9")

    text = http.get("/metrics").text

    route = 'route="/api/v1/models/{name}/versions/{version}"'
    assert re.search(rf'modelreg_http_requests_total{{method="GET",{route},status="200"}} [1-9]', text)
    assert re.search(rf'modelreg_http_requests_total{{method="GET",{route},status="404"}} [1-9]', text)
    assert re.search(rf'modelreg_http_request_duration_seconds_bucket{{method="PUT",{route},le="\+Inf"}} [1-9]', text)
    assert "api-metrics" not in text  # raw paths never become labels
    models = int(float(re.search(r"^modelreg_models (\S+)$", text, re.M)[1]))  # type: ignore[index]
    assert models == len(http.get("/api/v1/models").json()["models"])
    assert re.search(r"^modelreg_versions \d", text, re.M) and re.search(r"^modelreg_event_streams 0", text, re.M)


def test_openapi_document_describes_exactly_the_served_routes(http: httpx.Client) -> None:
    served = {(route.template, method.lower()) for route in ROUTES for method in route.methods}
    doc = http.get("/openapi.json").json()

    assert doc == json.loads(json.dumps(document()))
    assert {(path, method) for path, item in doc["paths"].items() for method in item} == served


def test_docs_page_needs_nothing_from_the_network(http: httpx.Client) -> None:
    page = http.get("/docs")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/v1/models/{name}/resolve" in page.text
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page.text)  # no CDN or remote asset


def test_each_request_gets_one_common_log_format_line(http: httpx.Client, module_server: Running) -> None:
    http.get("/api/v1/models/api-log/versions", params={"marker": "x"})
    http.get("/api/v1/models/api-log-2/versions")
    stamp = r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\]"
    line = rf'127\.0\.0\.1 - - {stamp} "GET /api/v1/models/api-log-2/versions HTTP/1\.1" '
    assert wait_until(lambda: re.search(line + r"200 \d+ [\d.]+ms$", module_server.logs(), re.M) is not None)
    assert '"GET /api/v1/models/api-log/versions?marker=x HTTP/1.1" 400' in module_server.logs()


def test_large_response_bodies_are_not_cached() -> None:
    from modelreg.server.call import MetadataBodies

    bodies = MetadataBodies()
    small, large = metadata(), metadata(description="\U0001f600" * 10_000)  # 120 KB as escaped JSON

    assert bodies.body(small) is bodies.body(small)  # cached: the same bytes object
    body = bodies.body(large)
    assert len(body) > MetadataBodies.LARGEST and body == large.to_json().encode()
    assert id(large) not in bodies._entries
    assert all(len(cached) <= MetadataBodies.LARGEST for _, cached in bodies._entries.values())
    assert sum(len(cached) for _, cached in bodies._entries.values()) <= 32 * 1024 * 1024


def _exchange(sock: socket.socket, request: bytes) -> tuple[str, dict[str, str], bytes]:
    """Send one request on a kept-alive connection; return its status line, headers and what followed them."""
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data!r}"
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    status, *lines = head.decode("latin-1").split("\r\n")
    return status, {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}, rest


def test_204_responses_carry_no_content_headers_and_keep_the_connection_usable(
    http: httpx.Client, module_server: Running
) -> None:
    _put(http, "api-204", "1.0.0")
    _put(http, "api-204", "2.0.0")
    host, port = module_server.url.split("//", 1)[1].rsplit(":", 1)
    alias = b'{"version": "1.0.0"}'
    requests = [
        b"PUT /api/v1/models/api-204/aliases/production HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(alias), alias),
        b"DELETE /api/v1/models/api-204/aliases/production HTTP/1.1\r\nHost: localhost\r\n\r\n",
        b"DELETE /api/v1/models/api-204/versions/2.0.0 HTTP/1.1\r\nHost: localhost\r\n\r\n",
    ]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for request in requests:
            status, headers, rest = _exchange(sock, request)
            assert status == "HTTP/1.1 204 No Content"
            assert not {"content-type", "content-length", "transfer-encoding"} & set(headers), headers
            assert rest == b""
        # The same connection still frames the next response correctly: nothing was left in the stream.
        status, headers, _ = _exchange(sock, b"GET /api/v1/models/api-204/versions HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert status == "HTTP/1.1 200 OK" and headers["content-type"] == "application/json"


def test_head_never_claims_a_length_other_than_get_would_send(http: httpx.Client, module_server: Running) -> None:
    _put(http, "api-head", "1.0.0")
    host, port = module_server.url.split("//", 1)[1].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        for version in ("1.0.0", "9.9.9"):  # exists (no body built) and missing (the problem GET would send)
            path = b"/api/v1/models/api-head/versions/" + version.encode()
            _, get_headers, body = _exchange(sock, b"GET " + path + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
            while len(body) < int(get_headers["content-length"]):  # the rest of GET's body
                body += sock.recv(65536)
            status, headers, rest = _exchange(sock, b"HEAD " + path + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
            assert rest == b""
            # RFC 9110 8.6: a HEAD response's Content-Length, when sent, is the length GET would send.
            assert headers.get("content-length", get_headers["content-length"]) == get_headers["content-length"], (
                status, headers, get_headers)
        status, headers, _ = _exchange(
            sock, b"GET /api/v1/models/api-head/versions HTTP/1.1\r\nHost: localhost\r\n\r\n")
        assert status == "HTTP/1.1 200 OK"  # the connection still frames responses correctly


def test_openapi_documents_what_the_connection_layer_answers_on_every_route() -> None:
    import inspect

    from modelreg.server import _guard

    # Every status the connection guard can send, read from its source, so a new one cannot go undocumented.
    statuses = set(re.findall(r"_answer\((\d{3}),", inspect.getsource(_guard)))
    assert statuses == {"408", "431", "503"}
    for path, item in document()["paths"].items():
        for method, op in item.items():
            assert statuses <= set(op["responses"]), (path, method)
