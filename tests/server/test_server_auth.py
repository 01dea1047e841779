"""Bearer tokens and roles: every route x no token / read / write / admin, against a real server."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from factories import metadata
from fixtures.http_backend import ServerProcess, serve_command
from modelreg import AliasPolicy, RegistryError
from modelreg.client import RegistryClient
from modelreg.server import auth as auth_module
from modelreg.server import serve
from modelreg.server.auth import (
    TOKENS_ENV,
    Auth,
    Role,
    add_token,
    hash_token,
    load_auth,
    read_tokens_file,
    revoke_token,
)
from modelreg.server.hosts import is_loopback
from modelreg.server.problems import HTTPProblem
from support.serverkit import TOKENS, Running, bearer, registry_url

ROLES = [None, "reader", "writer", "boss"]  # no token, read, write, admin
RANK = {None: 0, "reader": Role.READ, "writer": Role.WRITE, "boss": Role.ADMIN}
BODY = metadata().to_json()


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory, tokens_file: Path) -> Iterator[Running]:
    directory = tmp_path_factory.mktemp("auth-server")
    url = registry_url(directory)
    process = ServerProcess(serve_command(url, tokens_file=str(tokens_file)), directory / "server.log")
    try:
        yield Running(process, process.wait_listening(), url)
    finally:
        process.stop()


@pytest.fixture(scope="module")
def admin(auth_server: Running) -> Iterator[RegistryClient]:
    with RegistryClient(auth_server.url, token=TOKENS["boss"][1]) as client:
        yield client


# (method, path template, role needed (None: public), body); {m} is a model name unique to the request.
ROUTES = [
    ("GET", "/api/v1/models", Role.READ, None),
    ("GET", "/api/v1/models/{m}/versions", Role.READ, None),
    ("GET", "/api/v1/models/{m}/versions/1.0.0", Role.READ, None),
    ("HEAD", "/api/v1/models/{m}/versions/1.0.0", Role.READ, None),
    ("PUT", "/api/v1/models/{m}/versions/2.0.0", Role.WRITE, BODY),
    ("DELETE", "/api/v1/models/{m}/versions/1.0.0", Role.WRITE, None),
    ("DELETE", "/api/v1/models/{m}/versions/1.0.0?force=true", Role.ADMIN, None),
    ("GET", "/api/v1/models/{m}/resolve?spec=latest", Role.READ, None),
    ("GET", "/api/v1/models/{m}/aliases", Role.READ, None),
    ("PUT", "/api/v1/models/{m}/aliases/staging", Role.WRITE, '{"version": "1.0.0"}'),  # no policy: write moves it
    ("DELETE", "/api/v1/models/{m}/aliases/production", Role.WRITE, None),
    ("GET", "/api/v1/models/{m}/aliases/canary/policy", Role.READ, None),
    ("PUT", "/api/v1/models/{m}/aliases/staging/policy", Role.ADMIN, '{"require": ["metrics.top1 >= 0"]}'),
    ("DELETE", "/api/v1/models/{m}/aliases/canary/policy", Role.ADMIN, None),
    ("GET", "/api/v1/promotions?name={m}", Role.READ, None),
    ("POST", "/api/v1/promotions", Role.WRITE, '{"name": "{m}", "alias": "canary", "version": "1.1.0"}'),
    ("GET", "/api/v1/promotions/{p}", Role.READ, None),
    ("POST", "/api/v1/promotions/{p}/approve", Role.WRITE, None),
    ("POST", "/api/v1/promotions/{p}/reject", Role.WRITE, '{"reason": "not yet"}'),
    ("GET", "/api/v1/models/{m}/history", Role.READ, None),
    ("GET", "/api/v1/models/{m}/history?limit=1", Role.READ, None),
    ("GET", "/api/v1/models?limit=1", Role.READ, None),
    ("GET", "/api/v1/search?where=version%20%3E%3D%20'1.0.0'&limit=5", Role.READ, None),
    ("GET", "/api/v1/models/{m}", Role.READ, None),
    ("PATCH", "/api/v1/models/{m}", Role.WRITE, '{"description": "ResNet-50", "set_tags": {"owner": "vision"}}'),
    ("PATCH", "/api/v1/models/{m}/versions/1.0.0", Role.WRITE, '{"add_metrics": {"fresh": 1.5}}'),
    ("DELETE", "/api/v1/models/{m}?force=true", Role.ADMIN, None),
    ("GET", "/api/v1/events?since=0", Role.READ, None),
    ("GET", "/api/v1/changes?after=0", Role.READ, None),
    ("GET", "/metrics", Role.READ, None),
    ("GET", "/healthz", None, None),
    ("GET", "/readyz", None, None),
    ("GET", "/openapi.json", None, None),
    ("GET", "/docs", None, None),
]


def _model(admin: RegistryClient, auth_server: Running, case: int, who: str | None) -> tuple[str, int]:
    """A model with versions 1.0.0 and 1.1.0 (alias production), fresh for this (route, caller) pair.

    Its alias canary (unset: no version is protected) has a policy of one approval and a pending request
    to set it to 1.1.0, made by a token other than ``who`` (so ``who`` may approve it), whose id comes back.
    """
    name = f"auth-{case}-{who or 'nobody'}"
    admin.register_model(name, "1.0.0", metadata())
    admin.register_model(name, "1.1.0", metadata())
    admin.set_alias(name, "production", "1.1.0")
    admin.set_alias_policy(name, "canary", AliasPolicy(approvals=1))
    with RegistryClient(auth_server.url, token=TOKENS["writer" if who == "boss" else "boss"][1]) as requester:
        return name, requester.request_promotion(name, "canary", "1.1.0").id


@pytest.mark.parametrize("who", ROLES, ids=lambda w: w or "no-token")
@pytest.mark.parametrize("case", range(len(ROUTES)), ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_each_route_needs_its_role(auth_server: Running, admin: RegistryClient, case: int, who: str | None) -> None:
    method, template, needed, body = ROUTES[case]
    name, request = _model(admin, auth_server, case, who)
    template = template.replace("{m}", name).replace("{p}", str(request))
    body = body and body.replace("{m}", name)
    before = (admin.get_versions(name), admin.get_aliases(name), len(admin.history(name)))
    headers = {"Content-Type": "application/json", **(bearer(who) if who else {})}
    with httpx.Client(base_url=auth_server.url, timeout=10) as http:
        if "events" in template:
            with http.stream(method, template, headers=headers) as response:
                status = response.status_code
                text = next(response.iter_text()) if status == 200 else response.read().decode()
        else:
            response = http.request(method, template, content=body, headers=headers)
            status, text = response.status_code, response.text

    if needed is None or RANK[who] >= needed:
        assert status not in (401, 403), text
        assert status < 400, text
        return
    if who is None:
        assert status == 401
        assert response.headers["www-authenticate"].startswith("Bearer")
    else:
        assert status == 403
        detail = json.loads(text)["detail"]
        assert "role" in detail and repr(who) in detail
    assert (admin.get_versions(name), admin.get_aliases(name), len(admin.history(name))) == before


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer", "Basic dXNlcjpwYXNz", TOKENS["boss"][1],
                                    "Bearer " + hash_token(TOKENS["boss"][1])])
def test_invalid_credentials_get_401(auth_server: Running, header: str) -> None:
    response = httpx.get(f"{auth_server.url}/api/v1/models", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"


def test_a_writer_deletes_a_model_without_aliases_but_force_needs_admin(auth_server: Running,
                                                                        admin: RegistryClient) -> None:
    for name in ("auth-del-a", "auth-del-b"):
        admin.register_model(name, "1.0.0", metadata())
    with RegistryClient(auth_server.url, token=TOKENS["writer"][1]) as writer:
        writer.delete_model("auth-del-a")
        with pytest.raises(RegistryError, match="admin role") as refused:
            writer.delete_model("auth-del-b", force=True)

    assert refused.value.code == "forbidden"
    assert (admin.get_versions("auth-del-a"), admin.get_versions("auth-del-b")) == ([], ["1.0.0"])
    assert [(e.kind, e.actor) for e in admin.history("auth-del-a")][-1] == ("unregistered", "writer")


def test_writes_record_the_token_name_as_actor(auth_server: Running, admin: RegistryClient) -> None:
    with RegistryClient(auth_server.url, token=TOKENS["writer"][1]) as writer:
        writer.register_model("auth-actor", "1.0.0", metadata())
    admin.set_alias("auth-actor", "production", "1.0.0")

    assert [(e.kind, e.actor) for e in admin.history("auth-actor")] == [("registered", "writer"),
                                                                         ("alias_set", "boss")]


def test_client_gets_the_servers_auth_errors(auth_server: Running) -> None:
    reader_token = TOKENS["reader"][1]
    with RegistryClient(auth_server.url) as anonymous, RegistryClient(auth_server.url, token=reader_token) as reader:
        with pytest.raises(RegistryError) as missing:
            anonymous.get_all_model_names()
        with pytest.raises(RegistryError) as low:
            reader.register_model("auth-client", "1.0.0", metadata())

    assert missing.value.code == "unauthorized" and "bearer token" in str(missing.value)
    assert low.value.code == "forbidden" and "write role" in str(low.value)


def test_tokens_come_from_a_file_and_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"tokens": [{"name": "ci", "role": "write", "sha256": hash_token("a")}]}))
    env = {TOKENS_ENV: f"ops:admin:{hash_token('b')}, viewer:read:{hash_token('c').upper()}"}

    auth = load_auth(path, env)

    assert auth is not None
    assert [(t.name, t.role) for t in auth.tokens] == [("ci", Role.WRITE), ("ops", Role.ADMIN), ("viewer", Role.READ)]
    assert auth.identify("Bearer c").name == "viewer"
    assert auth.identify("bearer   b").name == "ops"
    assert load_auth(None, {}) is None
    assert load_auth(None, {TOKENS_ENV: json.dumps([{"name": "j", "role": "read", "sha256": hash_token("j")}])})


@pytest.mark.parametrize(("text", "message"), [
    ('{"tokens": [{"name": "x", "role": "root", "sha256": "' + "0" * 64 + '"}]}', "unknown role 'root'"),
    ('{"tokens": [{"name": "x", "role": "read", "sha256": "abc"}]}', "64 hex digits"),
    ('{"tokens": [{"name": "x", "role": "read", "sha256": "' + "0" * 64 + '", "secret": "s"}]}', "secret"),
    ('{"tokens": [{"name": "has space", "role": "read", "sha256": "' + "0" * 64 + '"}]}', "name"),
    ('{"tokens": {"x": 1}}', "expected"),
    ('{"tokens": [], "extra": 1}', "top-level"),
    ("{not json", "not valid JSON"),
    ("x:read", "name:role:sha256"),
])
def test_bad_token_configuration_is_refused_with_a_clear_message(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="tokens file") as caught:
        load_auth(path, {})
    assert message in str(caught.value)


def test_duplicate_token_names_and_secrets_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="configured twice: a"):
        load_auth(None, {TOKENS_ENV: f"a:read:{hash_token('x')},a:admin:{hash_token('y')}"})
    with pytest.raises(ValueError, match="same hash"):
        load_auth(None, {TOKENS_ENV: f"a:read:{hash_token('x')},b:admin:{hash_token('x')}"})
    with pytest.raises(ValueError, match="cannot read tokens file"):
        load_auth(tmp_path / "missing.json", {})


def test_hash_command_prints_the_stored_form_of_a_token() -> None:
    out = subprocess.run([sys.executable, "-m", "modelreg.server.auth", "hash", "s3cret"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hash_token("s3cret") == hashlib.sha256(b"s3cret").hexdigest()
    assert out.stderr == ""


def test_new_command_prints_a_token_and_an_entry_that_accepts_it() -> None:
    out = subprocess.run([sys.executable, "-m", "modelreg.server.auth", "new", "deployer", "admin"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    token = out[0].rsplit(" ", 1)[1]
    entry = json.loads(out[1])

    auth = Auth(load_auth(None, {TOKENS_ENV: json.dumps([entry])}).tokens)  # type: ignore[union-attr]
    assert auth.identify(f"Bearer {token}").role is Role.ADMIN


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_auth_module_help_exits_0_and_points_to_the_tokens_commands(flag: str) -> None:
    out = subprocess.run([sys.executable, "-m", "modelreg.server.auth", flag], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0 and out.stderr == ""
    assert "usage: python -m modelreg.server.auth hash" in out.stdout
    assert "modelreg tokens add NAME ROLE --file FILE" in out.stdout and "modelreg tokens revoke" in out.stdout


def test_auth_module_with_unknown_arguments_prints_usage_and_exits_2() -> None:
    out = subprocess.run([sys.executable, "-m", "modelreg.server.auth", "frobnicate"], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 2 and out.stderr.startswith("usage:")


def test_a_reloaded_tokens_file_keeps_the_environments_tokens_and_refuses_a_clash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(auth_module, "RELOAD_INTERVAL", 0.0)  # check on every request
    path = tmp_path / "tokens.json"
    secret = add_token(path, "file-a", "read")
    env = {TOKENS_ENV: f"env-ops:admin:{hash_token('env-secret')}"}
    auth = load_auth(path, env)
    assert auth is not None and auth.identify(f"Bearer {secret}").name == "file-a"

    other = add_token(path, "file-b", "write")
    assert auth.identify(f"Bearer {other}").name == "file-b"
    assert auth.identify("Bearer env-secret").name == "env-ops"  # the variable's tokens survive a reload
    assert revoke_token(path, "file-a").name == "file-a"
    with pytest.raises(HTTPProblem):
        auth.identify(f"Bearer {secret}")

    good = path.read_text()
    path.write_text(good.replace('"file-b"', '"env-ops"'))  # clashes with the variable's token name
    with caplog.at_level(logging.ERROR, logger="modelreg.server"):
        for _ in range(3):
            assert auth.identify(f"Bearer {other}").name == "file-b"  # the last good tokens stay
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "token name(s) configured twice: env-ops; not reloaded, still serving the tokens loaded before"
    ]


def test_concurrent_edits_of_one_tokens_file_lose_no_change(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    add_token(path, "keep", "read")
    add_token(path, "doomed", "read")

    def edits(worker: int) -> None:
        for i in range(5):
            add_token(path, f"w{worker}-{i}", "read")

    threads = [threading.Thread(target=edits, args=(w,)) for w in range(6)]
    threads.append(threading.Thread(target=revoke_token, args=(path, "doomed")))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    names = {t.name for t in read_tokens_file(path)}
    assert names == {"keep"} | {f"w{w}-{i}" for w in range(6) for i in range(5)}  # and 'doomed' stays revoked


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.com"])
def test_serve_refuses_a_non_loopback_address_without_tokens(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKENS_ENV, raising=False)
    with pytest.raises(ValueError, match=f"refusing to serve on {host} without tokens.*--insecure"):
        serve("memory://", host=host, port=0)


def test_loopback_addresses_are_recognised() -> None:
    assert all(is_loopback(h) for h in ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
    assert not any(is_loopback(h) for h in ["0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.evil"])


@pytest.mark.parametrize(("options", "message"), [
    ({"port": 70000}, "port must be"), ({"port": -1}, "port must be"), ({"max_body_bytes": 0}, "max_body_bytes"),
    ({"tokens_file": "/nonexistent/tokens.json"}, "cannot read tokens file"), ({"host": ""}, "host"),
])
def test_serve_refuses_bad_configuration_before_starting(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        serve("memory://", **options)  # type: ignore[arg-type]


def test_serve_reports_a_port_in_use(module_server: Running) -> None:
    port = int(module_server.url.rsplit(":", 1)[1])
    with pytest.raises(ValueError, match=f"cannot listen on 127.0.0.1:{port}"):
        serve("memory://", port=port)


@pytest.mark.parametrize("text", ['{"tokens": []}', "[]", " , "])
def test_a_tokens_source_that_holds_no_tokens_is_refused_not_served_anonymously(tmp_path: Path, text: str) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(text)
    with pytest.raises(ValueError, match="tokens file .* holds no tokens"):
        load_auth(path, {})
    with pytest.raises(ValueError, match=f"\\${TOKENS_ENV} holds no tokens"):
        load_auth(None, {TOKENS_ENV: text})
    with pytest.raises(ValueError, match="holds no tokens"):
        serve("memory://", port=0, tokens_file=str(path))  # refused before binding, even on loopback


def test_a_blank_tokens_variable_counts_as_unset() -> None:
    assert load_auth(None, {TOKENS_ENV: "  "}) is None


@pytest.mark.parametrize("token", ["", "ab ", "a b", "\u00e9", "tab\t"])
def test_hash_token_refuses_a_token_no_client_could_present(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        hash_token(token)
