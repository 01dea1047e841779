"""RegistryClient beyond the conformance suite: error mapping, retries, encoding, lifecycle."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from factories import metadata
from modelreg import (
    AliasNotFoundError,
    DuplicateVersionError,
    InvalidNameError,
    InvalidVersionError,
    MetadataError,
    ModelMetadata,
    RegistryError,
    StoreError,
    VersionInUseError,
    VersionNotFoundError,
    open_registry,
)
from modelreg.client import RegistryClient
from modelreg.errors import ERROR_CLASSES
from modelreg.metadata import LIMITS
from modelreg.server import DEFAULT_MAX_BODY_BYTES
from modelreg.server.problems import problem_for_error
from support.serverkit import Running


@pytest.fixture
def client(module_server: Running) -> Iterator[RegistryClient]:
    with RegistryClient(module_server.url) as registry:
        yield registry


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_class_survives_the_round_trip(cls: type[RegistryError]) -> None:
    sent = cls(f"{cls.__name__} happened", name="m", version="1.0.0", alias="production")
    status, body = problem_for_error(sent)  # what the server puts on the wire for it
    response = httpx.Response(status, content=body, headers={"content-type": "application/problem+json"})

    received = RegistryClient("http://127.0.0.1:1").error_for(response)

    assert type(received) is cls
    assert (received.code, received.message, received.name, received.version, received.alias) == (
        sent.code, sent.message, "m", "1.0.0", "production")


def test_server_errors_arrive_as_the_same_classes(client: RegistryClient) -> None:
    client.register_model("cl-errors", "1.0.0", metadata())
    client.set_alias("cl-errors", "production", "1.0.0")
    raw = {  # requests the client would refuse locally, sent as they are to reach the server's validation
        InvalidVersionError: ("GET", "/api/v1/models/cl-errors/versions/01.0.0", None),
        InvalidNameError: ("GET", "/api/v1/models/-x/versions", None),
        MetadataError: ("PUT", "/api/v1/models/cl-errors/versions/2.0.0", '{"artifact_path": "s3://x"}'),
    }
    for cls, (method, path, body) in raw.items():
        error = client.error_for(client.request(method, path, content=body))
        assert type(error) is cls, error

    with pytest.raises(DuplicateVersionError, match="already has version '1.0.0'"):
        client.register_model("cl-errors", "v1.0.0+other", metadata())
    with pytest.raises(VersionNotFoundError):
        client.get_metadata("cl-errors", "9.0.0")
    with pytest.raises(AliasNotFoundError):
        client.remove_alias("cl-errors", "staging")
    with pytest.raises(VersionInUseError) as in_use:
        client.unregister_model("cl-errors", "1.0.0")
    assert in_use.value.alias == "production"
    http_only = client.error_for(client.request("POST", "/api/v1/models"))  # an HTTP-layer code: the base class
    assert type(http_only) is RegistryError and http_only.code == "method_not_allowed"


def test_unreachable_server_raises_store_error_with_the_cause_chained() -> None:
    with RegistryClient(f"http://127.0.0.1:{_closed_port()}", timeout=2) as client:
        with pytest.raises(StoreError, match="cannot reach the registry server") as caught:
            client.get_versions("m")
        assert isinstance(caught.value.__cause__, httpx.ConnectError)
        with pytest.raises(StoreError):
            client.register_model("m", "1.0.0", metadata())


def test_inputs_are_checked_before_any_request(module_server: Running) -> None:
    with RegistryClient(f"http://127.0.0.1:{_closed_port()}") as offline:  # a request would raise StoreError
        with pytest.raises(InvalidNameError):
            offline.get_versions("bad name")
        with pytest.raises(InvalidVersionError):
            offline.has_version("m", "1.0")
        with pytest.raises(TypeError):
            offline.register_model("m", "1.0.0", {"artifact_path": "x"})  # type: ignore[arg-type]
        with pytest.raises(InvalidNameError):
            offline.set_alias("m", "latest", "1.0.0")


def test_reads_are_retried_after_a_dropped_connection(module_server: Running) -> None:
    """A server that drops the first connection mid-request: the read succeeds on the retry."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    upstream = module_server.url.rsplit(":", 1)[1]
    served: list[int] = []

    def flaky_proxy() -> None:
        first, _ = listener.accept()
        first.recv(65536)
        first.close()  # drop the first request without an answer
        second, _ = listener.accept()
        request = second.recv(65536)
        with socket.create_connection(("127.0.0.1", int(upstream))) as up:
            up.sendall(request.replace(b"\r\n", b"\r\nConnection: close\r\n", 1))
            answer = b""
            while chunk := up.recv(65536):
                answer += chunk
        second.sendall(answer)
        second.close()
        served.append(1)

    thread = threading.Thread(target=flaky_proxy, daemon=True)
    thread.start()
    try:
        with RegistryClient(f"http://127.0.0.1:{port}", timeout=5) as client:
            assert client.get_versions("cl-nothing") == []
    finally:
        thread.join(timeout=10)
        listener.close()
    assert served == [1]


class _NotFound(http.server.BaseHTTPRequestHandler):
    """Some other web server: an HTML 404 for everything."""

    def _answer(self) -> None:
        body = b"<html><body>Not Found</body></html>"
        self.send_response(404)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    do_GET = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_url_that_is_not_a_modelreg_server_is_a_store_error() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with RegistryClient(f"http://127.0.0.1:{server.server_address[1]}/elsewhere") as client:
            with pytest.raises(StoreError, match="is it a modelreg server"):
                client.has_version("m", "1.0.0")
            with pytest.raises(StoreError, match="is it a modelreg server"):
                client.get_versions("m")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_names_versions_and_specs_are_percent_encoded(client: RegistryClient) -> None:
    client.register_model("cl.enc_1-a", "1.0.0+build.5", metadata())
    client.register_model("cl.enc_1-a", "1.2.0-rc.1", metadata())

    assert client.has_version("cl.enc_1-a", "1.0.0+build.5")
    assert client.get_metadata("cl.enc_1-a", "v1.0.0+other").version == "1.0.0+build.5"
    assert client.resolve("cl.enc_1-a", "^1.0.0") == "1.0.0+build.5"
    assert client.resolve("cl.enc_1-a", ">=1.0.0+x <2.0.0 || =1.2.0-rc.1") == "1.2.0-rc.1"
    client.unregister_model("cl.enc_1-a", "1.0.0+build.5")
    assert client.get_versions("cl.enc_1-a") == ["1.2.0-rc.1"]


def test_a_url_with_a_path_prefix_works_behind_a_proxy(http_tenants: str) -> None:
    tenant = httpx.post(f"{http_tenants}/tenants").json()["id"]
    try:
        with RegistryClient(f"{http_tenants}/t/{tenant}/") as client:
            client.register_model("m", "1.0.0", metadata())
            assert client.get_all_model_names() == ["m"]
    finally:
        httpx.delete(f"{http_tenants}/tenants/{tenant}")


def test_open_registry_builds_a_client_from_an_http_url(module_server: Running) -> None:
    registry = open_registry(module_server.url, token="unused", timeout=3)
    try:
        assert isinstance(registry, RegistryClient)
        assert registry.timeout == 3.0
        assert isinstance(registry.get_all_model_names(), list)
    finally:
        registry.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize(("url", "options", "message"), [
    ("ftp://host", {}, "expected http"), ("http://", {}, "expected http"), ("http://h?x=1", {}, "expected http"),
    ("http://h", {"timeout": 0}, "timeout"), ("http://h", {"token": ""}, "token"),
    ("http://h", {"retries": -1}, "retries"),
])
def test_bad_client_settings_are_refused(url: str, options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RegistryClient(url, **options)  # type: ignore[arg-type]


def test_closed_client_refuses_further_calls(module_server: Running) -> None:
    client = RegistryClient(module_server.url)
    client.close()
    client.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        client.get_all_model_names()


def _maximal(char: str) -> ModelMetadata:
    """Metadata at every limit of ``metadata.LIMITS``, its text all ``char``."""
    def text(prefix: str, length: int) -> str:
        return prefix + char * (length - len(prefix))

    hyper_chars = (LIMITS["hyperparameters_json_bytes"] - len('{"h": ""}')) // len(json.dumps(char))
    return ModelMetadata(
        training_date=datetime(2026, 1, 5, 12, 30, 0, 123456, tzinfo=UTC),
        artifact_path=text("s3://", LIMITS["artifact_path_chars"]),
        description=text("", LIMITS["description_chars"]),
        tags={text(f"{i:03d}", LIMITS["tag_key_chars"]): text("", LIMITS["tag_value_chars"])
              for i in range(LIMITS["tags"])},
        performance_metrics={text(f"{i:04d}", LIMITS["metric_name_chars"]): -2.2250738585072014e-308
                             for i in range(LIMITS["metrics"])},
        hyperparameters={"h": char * hyper_chars},
    )


@pytest.mark.parametrize("char", ["\U0001f600", "\x01"], ids=["4-byte-utf8", "escaped-control"])
def test_metadata_at_every_limit_registers_over_http(client: RegistryClient, char: str) -> None:
    big = _maximal(char)
    utf8 = json.dumps(big.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
    assert 1_048_576 < len(utf8) <= DEFAULT_MAX_BODY_BYTES  # over the old 1 MiB default, within the new one
    name = f"cl-max-{len(char.encode())}"

    stored = client.register_model(name, "1.0.0", big)

    assert stored == big.with_version("1.0.0")
    assert client.get_metadata(name, "1.0.0") == stored


@pytest.mark.parametrize("token", ["", "ab ", " ab", "a b", "\u00e9", "tab\t", "new\nline"])
def test_a_token_no_server_could_accept_is_refused_before_any_request(token: str) -> None:
    with pytest.raises(ValueError, match="token"):
        RegistryClient("http://127.0.0.1:9", token=token)



def _requests_served(url: str) -> int:
    text = httpx.get(f"{url}/metrics").text
    return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("modelreg_http_requests_total{") and 'route="/metrics"' not in line)


def test_cli_models_over_http_takes_one_request_however_many_models(client: RegistryClient,
                                                                    module_server: Running) -> None:
    from click.testing import CliRunner

    from modelreg.cli.app import cli

    for i in range(3):
        client.register_model(f"cl-count-{i}", "1.0.0", metadata())
    client.register_model("cl-count-0", "2.0.0", metadata())
    before = _requests_served(module_server.url)

    result = CliRunner(env={"MODELREG_URL": None, "MODELREG_TOKEN": None}).invoke(
        cli, ["--registry", module_server.url, "--json", "models"], catch_exceptions=False)

    assert result.exit_code == 0, result.stderr
    counts = {row["name"]: row["versions"] for row in json.loads(result.stdout)}
    assert {name: counts[name] for name in ("cl-count-0", "cl-count-1", "cl-count-2")} == {
        "cl-count-0": 2, "cl-count-1": 1, "cl-count-2": 1}
    assert _requests_served(module_server.url) - before == 1
    assert client.version_counts() == counts


def test_the_default_timeout_outlasts_the_servers_store_timeout_so_a_write_is_always_answered() -> None:
    from modelreg._config import DEFAULT_CLIENT_TIMEOUT
    from modelreg.stores._outage import DEFAULT_STORE_TIMEOUT

    with RegistryClient("http://127.0.0.1:9") as client:
        assert client.timeout == DEFAULT_CLIENT_TIMEOUT
    assert DEFAULT_CLIENT_TIMEOUT >= 2 * DEFAULT_STORE_TIMEOUT  # today 10 s against the store's 30 s
