"""Webhooks end to end: a real ``modelreg serve`` on a SQLite file delivering to a real loopback receiver.

Short backoff and lease settings (environment) keep the fault tests quick; every timing
bound is generous (several times the configured figure), never tight.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelreg.server._delivery import dumps
from modelreg.webhooks import delivery_id, verify_signature
from support.receiver import Received, Receiver
from support.serverkit import Running, StartServer, bearer, put_version

FAST = {"MODELREG_WEBHOOK_BACKOFF": "0.05", "MODELREG_WEBHOOK_MAX_BACKOFF": "0.4", "MODELREG_WEBHOOK_LEASE": "1",
        "MODELREG_WEBHOOK_TIMEOUT": "1"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver().start()
    yield found
    found.stop()


@pytest.fixture
def server(start_server: StartServer, tokens_file: Path) -> Running:
    return start_server(env=FAST, tokens_file=str(tokens_file))


def _admin(server: Running) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers=bearer("boss"), timeout=30)


def _add(http: httpx.Client, url: str, **fields: Any) -> dict[str, Any]:
    answer = http.post("/api/v1/webhooks", json={"url": url, **fields})
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _hook(http: httpx.Client, hook_id: str) -> dict[str, Any]:
    answer = http.get(f"/api/v1/webhooks/{hook_id}")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _wait(predicate: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def _delivery_id(hook_id: str, request: Received) -> str:
    """The delivery id of the event ``request`` carries: webhook, revision and the event's digest."""
    return delivery_id(hook_id, request.revision, dumps(request.json["event"]))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_matching_events_arrive_in_revision_order_signed_with_a_stable_delivery_id(
    server: Running, receiver: Receiver
) -> None:
    with _admin(server) as http:
        created = _add(http, receiver.url, events=["registered", "alias_set"], models=["res*"])
        for patch in range(5):
            put_version(http, "resnet", f"1.0.{patch}")
            put_version(http, "other", f"1.0.{patch}")  # another model: not delivered
        assert http.put("/api/v1/models/resnet/aliases/production", json={"version": "1.0.4"}).status_code == 204
        http.delete("/api/v1/models/resnet/versions/1.0.0")  # another kind: not delivered
        revisions = receiver.wait_delivered(6)
    assert revisions == sorted(revisions) and len(set(revisions)) == 6
    kinds = [r.json["event"]["kind"] for r in receiver.received]
    assert kinds == ["registered"] * 5 + ["alias_set"]
    assert {r.json["event"]["name"] for r in receiver.received} == {"resnet"}
    for request in receiver.received:
        headers = request.headers
        assert verify_signature(created["secret"], headers["x-modelreg-timestamp"], request.body,
                                headers["x-modelreg-signature"])
        assert not verify_signature("another-secret-0123", headers["x-modelreg-timestamp"], request.body,
                                    headers["x-modelreg-signature"])
        assert headers["x-modelreg-delivery"] == _delivery_id(created["id"], request) == request.json["delivery"]
        assert headers["x-modelreg-event"] == request.json["event"]["kind"]


def test_a_failing_receiver_is_retried_marked_failing_and_resumes_without_a_gap(
    server: Running, receiver: Receiver
) -> None:
    receiver.status = 500
    with _admin(server) as http:
        hook = _add(http, receiver.url)
        for patch in range(3):
            put_version(http, "flaky", f"1.0.{patch}")
        _wait(lambda: _hook(http, hook["id"])["failing"])  # 5 failed attempts in a row
        failed = http.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["deliveries"]
        assert failed[0]["status"] == 500 and not failed[0]["ok"] and failed[0]["error"] == "answered 500"
        assert {d["revision"] for d in failed} == {1}  # the first event is retried; none after it is skipped
        assert [d["attempt"] for d in reversed(failed)] == list(range(1, len(failed) + 1))
        assert {d["id"] for d in failed} == {_delivery_id(hook["id"], receiver.received[0])}
        receiver.status = 200
        assert receiver.wait_delivered(3) == [1, 2, 3]
        _wait(lambda: not _hook(http, hook["id"])["failing"])
        state = _hook(http, hook["id"])
    assert state["position"] == 3 and state["failures"] == 0 and state["last_status"] == 200


def test_a_refused_connection_is_retried_until_the_receiver_listens(
    server: Running, receiver: Receiver
) -> None:
    port = _free_port()
    with _admin(server) as http:
        hook = _add(http, f"http://127.0.0.1:{port}/hook")
        put_version(http, "later", "1.0.0")
        put_version(http, "later", "1.0.1")
        _wait(lambda: _hook(http, hook["id"])["failures"] >= 2)
        error = _hook(http, hook["id"])["last_error"]
        assert _hook(http, hook["id"])["last_status"] is None and "Connection" in error, error
        late = Receiver()
        late.start_on(port)
        try:
            assert late.wait_delivered(2) == [1, 2]
        finally:
            late.stop()


def test_a_killed_server_resumes_from_the_stored_position(
    start_server: StartServer, tokens_file: Path, receiver: Receiver
) -> None:
    first = start_server(env=FAST, tokens_file=str(tokens_file))
    with _admin(first) as http:
        hook = _add(http, receiver.url)
        for patch in range(3):
            put_version(http, "durable", f"1.0.{patch}")
        assert receiver.wait_delivered(3) == [1, 2, 3]
        _wait(lambda: _hook(http, hook["id"])["position"] == 3)
        receiver.status = 503  # what comes next waits for the restart
        put_version(http, "durable", "1.0.3")
        receiver.wait_for(4)
    first.process.stop(signal.SIGKILL)
    receiver.status = 200
    second = start_server(first.registry_url, env=FAST, tokens_file=str(tokens_file))
    with _admin(second) as http:
        put_version(http, "durable", "1.0.4")
        assert receiver.wait_delivered(5) == [1, 2, 3, 4, 5]  # 4 again (it was refused), nothing before it
        _wait(lambda: _hook(http, hook["id"])["position"] == 5)


def test_a_dead_receiver_does_not_slow_writes(server: Running) -> None:
    # A receiver that accepts connections and never answers: each attempt waits its whole timeout (1 s).
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        with _admin(server) as http:
            for _ in range(3):
                _add(http, f"http://127.0.0.1:{silent.getsockname()[1]}/hook")
            started = time.monotonic()
            for patch in range(20):
                put_version(http, "busy", f"1.0.{patch}")
            elapsed = time.monotonic() - started
            assert http.get("/api/v1/models/busy/versions").json()["versions"][-1] == "1.0.19"
    # 20 writes take well under a second here; each stalled delivery waits 1 s: a write that waited
    # for one would push this past 20 s.
    assert elapsed < 10, elapsed


@pytest.mark.parametrize(("body", "named"), [
    ({"url": "ftp://example.com/hook"}, "must use http or https, not 'ftp'"),
    ({"url": "file:///etc/passwd"}, "must use http or https"),
    ({"url": "https://"}, "names no host"),
    ({"url": "https://user:pw@example.com/"}, "may not carry a user or password"),
    ({"url": "https://example.com/" + "a" * 3000}, "at most 2048"),
    ({}, "field 'url' must be an http:// or https:// URL"),
    ({"url": "https://example.com/", "events": ["registered", "deployed"]}, "'deployed', which is no event kind; "
     "valid kinds: registered, unregistered, alias_set"),
    ({"url": "https://example.com/", "events": []}, "non-empty list of event kinds"),
    ({"url": "https://example.com/", "models": ["bad/name"]}, "models pattern 'bad/name'"),
    ({"url": "https://example.com/", "models": "resnet"}, "non-empty list of model name patterns"),
    ({"url": "https://example.com/", "secret": "short"}, "field 'secret' must be 16 to 256"),
    ({"url": "https://example.com/", "callback": "x"}, "unknown field(s) 'callback'"),
])
def test_a_bad_registration_is_a_422_naming_the_fault_and_stores_nothing(
    server: Running, body: dict[str, Any], named: str
) -> None:
    with _admin(server) as http:
        answer = http.post("/api/v1/webhooks", json=body)
        assert answer.status_code == 422, answer.text
        assert answer.json()["code"] == "invalid_webhook"
        assert named in answer.json()["detail"]
        assert http.get("/api/v1/webhooks").json() == {"webhooks": []}


def test_webhooks_need_the_admin_role_and_secrets_never_come_back(server: Running, receiver: Receiver) -> None:
    with _admin(server) as http:
        created = _add(http, receiver.url, secret="my-own-secret-0123456789")
        assert created["secret"] == "my-own-secret-0123456789"
        generated = _add(http, receiver.url)
        assert generated["secret"].startswith("whsec_") and len(generated["secret"]) > 40
        listing = http.get("/api/v1/webhooks")
        one = http.get(f"/api/v1/webhooks/{created['id']}")
        deliveries = http.get(f"/api/v1/webhooks/{created['id']}/deliveries")
        for answer in (listing, one, deliveries):
            assert answer.status_code == 200
            assert "secret" not in answer.text and created["secret"] not in answer.text
            assert generated["secret"] not in answer.text
        events = http.get("/api/v1/changes", params={"after": 0}).json()["events"]
        assert events == []  # webhook configuration is not an event
    for who in ("reader", "writer"):
        with httpx.Client(base_url=server.url, headers=bearer(who), timeout=10) as http:
            for method, path in (("GET", "/api/v1/webhooks"), ("POST", "/api/v1/webhooks"),
                                 ("GET", f"/api/v1/webhooks/{created['id']}"),
                                 ("DELETE", f"/api/v1/webhooks/{created['id']}"),
                                 ("GET", f"/api/v1/webhooks/{created['id']}/deliveries"),
                                 ("POST", f"/api/v1/webhooks/{created['id']}/test")):
                answer = http.request(method, path, json={"url": receiver.url} if method == "POST" else None)
                assert answer.status_code == 403, (who, method, path, answer.text)
                assert "needs the admin role" in answer.json()["detail"]
    with _admin(server) as http:
        assert len(http.get("/api/v1/webhooks").json()["webhooks"]) == 2


def test_removing_a_webhook_stops_its_deliveries_and_an_unknown_id_is_a_404(
    server: Running, receiver: Receiver
) -> None:
    with _admin(server) as http:
        hook = _add(http, receiver.url)
        put_version(http, "gone", "1.0.0")
        receiver.wait_delivered(1)
        assert http.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 204
        put_version(http, "gone", "1.0.1")
        for path in (f"/api/v1/webhooks/{hook['id']}", "/api/v1/webhooks/wh_0000000000000000/deliveries",
                     "/api/v1/webhooks/not-an-id"):
            answer = http.get(path)
            assert answer.status_code == 404 and answer.json()["code"] == "webhook_not_found", answer.text
        time.sleep(1.0)  # several delivery rounds
    assert receiver.delivered() == [1]


def test_a_test_delivery_is_a_signed_ping_and_is_logged(server: Running, receiver: Receiver) -> None:
    with _admin(server) as http:
        hook = _add(http, receiver.url)
        answer = http.post(f"/api/v1/webhooks/{hook['id']}/test")
        assert answer.status_code == 200, answer.text
        assert answer.json()["ok"] and answer.json()["kind"] == "ping" and answer.json()["status"] == 200
        logged = http.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json()["deliveries"]
    assert [d["id"] for d in logged] == [answer.json()["id"]]
    (request,) = receiver.received
    assert request.headers["x-modelreg-event"] == "ping" and request.json["event"] is None
    assert verify_signature(hook["secret"], request.headers["x-modelreg-timestamp"], request.body,
                            request.headers["x-modelreg-signature"])


def test_a_redirect_is_not_followed(server: Running, receiver: Receiver) -> None:
    receiver.status = 307
    with _admin(server) as http:
        hook = _add(http, receiver.url)
        answer = http.post(f"/api/v1/webhooks/{hook['id']}/test").json()
    assert answer["status"] == 307 and not answer["ok"] and "redirects are not followed" in answer["error"]
    assert len(receiver.received) == 1


def test_a_memory_registry_delivers_in_process(start_server: StartServer, receiver: Receiver) -> None:
    served = start_server("memory://", env=FAST)
    with httpx.Client(base_url=served.url, timeout=30) as http:
        _add(http, receiver.url)
        put_version(http, "inmem", "1.0.0")
        put_version(http, "inmem", "1.0.1")
        assert receiver.wait_delivered(2) == [1, 2]


def test_a_scoped_admin_token_cannot_manage_webhooks(start_server: StartServer, tmp_path: Path) -> None:
    import json

    from modelreg.server.auth import hash_token

    path = tmp_path / "scoped.json"
    path.write_text(json.dumps({"tokens": [
        {"name": "team", "role": "admin", "models": ["vision-*"], "sha256": hash_token("tok-team-0123456789")},
        {"name": "boss", "role": "admin", "sha256": hash_token("tok-boss-0123456789")}]}))
    served = start_server(tokens_file=str(path))
    with httpx.Client(base_url=served.url, headers={"Authorization": "Bearer tok-boss-0123456789"}) as boss:
        hook = _add(boss, "https://ci.example/hook")
    with httpx.Client(base_url=served.url, headers={"Authorization": "Bearer tok-team-0123456789"}) as http:
        for method, route in (("GET", "/api/v1/webhooks"), ("POST", "/api/v1/webhooks"),
                              ("GET", "/api/v1/webhooks/{id}"), ("DELETE", "/api/v1/webhooks/{id}"),
                              ("GET", "/api/v1/webhooks/{id}/deliveries"), ("POST", "/api/v1/webhooks/{id}/test")):
            body = {"url": "https://ci.example/other"} if route == "/api/v1/webhooks" and method == "POST" else None
            answer = http.request(method, route.format(id=hook["id"]), json=body)
            assert answer.status_code == 403, (method, route, answer.text)
            assert "scoped to some models" in answer.json()["detail"]
    with httpx.Client(base_url=served.url, headers={"Authorization": "Bearer tok-boss-0123456789"}) as boss:
        assert [h["id"] for h in boss.get("/api/v1/webhooks").json()["webhooks"]] == [hook["id"]]


def _doc_snippet() -> str:
    """The verification snippet of docs/webhooks.md, as printed there."""
    import re

    text = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text(encoding="utf-8")
    section = text.split("## Verifying a delivery", 1)[1]
    found = re.search(r"```python\n(.+?)\n```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_documented_ten_line_snippet_verifies_a_real_delivery(server: Running, receiver: Receiver) -> None:
    snippet = _doc_snippet()
    assert len(snippet.splitlines()) <= 11  # ten lines of code and the blank one after the import
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    verify = namespace["verify"]
    with _admin(server) as http:
        hook = _add(http, receiver.url)
        put_version(http, "documented", "1.0.0")
    (request,) = receiver.wait_for(1)
    assert verify(hook["secret"], request.headers, request.body)
    assert not verify(hook["secret"], request.headers, request.body + b" ")
    assert not verify("whsec_not_the_secret", request.headers, request.body)
    stale = {**request.headers, "x-modelreg-timestamp": str(int(request.headers["x-modelreg-timestamp"]) - 301)}
    assert not verify(hook["secret"], stale, request.body)
    for name, bad in (("x-modelreg-signature", "sha256=\u00e9"), ("x-modelreg-signature", "\ud800"),
                      ("x-modelreg-timestamp", "\u00b2"), ("x-modelreg-timestamp", "1" * 5000)):
        assert not verify(hook["secret"], {**request.headers, name: bad}, request.body)  # False, never an error


def test_a_graceful_restart_hands_the_webhooks_over_at_once_not_a_lease_later(
    start_server: StartServer, tokens_file: Path, receiver: Receiver
) -> None:
    env = {**FAST, "MODELREG_WEBHOOK_LEASE": "30"}
    first = start_server(env=env, tokens_file=str(tokens_file))
    with _admin(first) as http:
        _add(http, receiver.url)
        put_version(http, "handover", "1.0.0")
        receiver.wait_delivered(1)
    assert first.process.stop(signal.SIGTERM) == 0  # stores the progress, then releases the lease
    second = start_server(first.registry_url, env=env, tokens_file=str(tokens_file))
    with _admin(second) as http:
        put_version(http, "handover", "1.0.1")
        started = time.monotonic()
        assert receiver.wait_delivered(2, timeout=10) == [1, 2]  # an unreleased lease would hold it for 30 s
        assert time.monotonic() - started < 10


def test_a_store_restored_from_a_backup_gives_its_new_events_new_delivery_ids(
    start_server: StartServer, tokens_file: Path, receiver: Receiver, tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    first = start_server(env=FAST, tokens_file=str(tokens_file))
    path = first.registry_url.removeprefix("sqlite:///")
    with _admin(first) as http:
        hook = _add(http, receiver.url)
        put_version(http, "restored", "1.0.0")
        receiver.wait_delivered(1)
        _wait(lambda: _hook(http, hook["id"])["position"] == 1)
        with sqlite3.connect(path) as live, sqlite3.connect(tmp_path / "backup.db") as backup:
            live.backup(backup)
        put_version(http, "restored", "1.0.1")  # revision 2, delivered, then lost with the restore
        receiver.wait_delivered(2)
    first.process.stop(signal.SIGTERM)
    for suffix in ("-wal", "-shm"):
        Path(path + suffix).unlink(missing_ok=True)
    shutil.copy(tmp_path / "backup.db", path)
    second = start_server(first.registry_url, env=FAST, tokens_file=str(tokens_file))
    with _admin(second) as http:
        put_version(http, "restored", "2.0.0")  # revision 2 again, another event
        _wait(lambda: len(receiver.received) >= 3)
    lost, reused = receiver.received[1], receiver.received[2]
    assert lost.revision == reused.revision == 2 and reused.json["event"]["version"] == "2.0.0"
    assert lost.headers["x-modelreg-delivery"] != reused.headers["x-modelreg-delivery"]  # not dropped as a duplicate


def test_test_pings_have_a_bound_of_their_own_and_the_server_stays_ready(
    start_server: StartServer, tokens_file: Path
) -> None:
    import concurrent.futures

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)  # accepts (the kernel does), never answers
    server = start_server(env={**FAST, "MODELREG_WEBHOOK_TIMEOUT": "5"}, tokens_file=str(tokens_file))
    try:
        with _admin(server) as http:
            hook = _add(http, f"http://127.0.0.1:{silent.getsockname()[1]}/hook", events=["alias_set"])

            def ping(_: int) -> int:
                with _admin(server) as own:
                    return own.post(f"/api/v1/webhooks/{hook['id']}/test").status_code

            with concurrent.futures.ThreadPoolExecutor(12) as pool:
                pending = [pool.submit(ping, i) for i in range(12)]
                time.sleep(1.0)
                started = time.monotonic()
                assert http.get("/readyz").status_code == 200
                assert time.monotonic() - started < 2.0
                codes = sorted(future.result() for future in pending)
            assert codes.count(429) >= 12 - 3 and set(codes) <= {200, 429}, codes  # at most 3 at once
            answer = http.post(f"/api/v1/webhooks/{hook['id']}/test")  # the bound is free again: a real attempt
            assert answer.status_code == 200 and answer.json()["error"] == "no answer within 5 s"
    finally:
        silent.close()
