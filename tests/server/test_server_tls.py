"""HTTPS end to end: ``serve`` with a certificate, verifying clients and CLI, and no tokens over plain HTTP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import trustme  # a test dependency: the TLS tests never skip (a missing package fails them)

from factories import metadata
from fixtures.http_backend import ServerProcess
from modelreg import open_registry
from modelreg.client import RegistryClient
from modelreg.errors import StoreError
from modelreg.server import serve
from modelreg.server.auth import TOKENS_ENV
from support.serverkit import TOKENS, StartServer, bearer, registry_url

ENV = {k: v for k, v in os.environ.items() if k not in (TOKENS_ENV, "MODELREG_CA_BUNDLE", "SSL_CERT_FILE")}


@dataclass(frozen=True)
class Pki:
    """Files of a throwaway CA and a server certificate it signed for 127.0.0.1 and localhost."""

    ca: Path
    cert: Path
    key: Path
    other_ca: Path  # a CA that signed nothing the server presents


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    files = Pki(directory / "ca.pem", directory / "cert.pem", directory / "key.pem", directory / "other-ca.pem")
    ca.cert_pem.write_to_path(str(files.ca))
    issued.private_key_pem.write_to_path(str(files.key))
    for i, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(files.cert), append=i > 0)
    trustme.CA().cert_pem.write_to_path(str(files.other_ca))
    return files


def _modelreg(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "modelreg", *args], capture_output=True, text=True, timeout=60,
                          env={**ENV, **(env or {})}, check=False)


def test_https_round_trip_with_a_private_ca_bundle(pki: Pki, start_server: StartServer, tokens_file: Path) -> None:
    server = start_server(tls_cert=str(pki.cert), tls_key=str(pki.key), tokens_file=str(tokens_file))
    assert server.url.startswith("https://127.0.0.1:")
    with RegistryClient(server.url, token=TOKENS["writer"][1], ca_bundle=pki.ca) as client:
        stored = client.register_model("tls", "1.0.0", metadata())
        assert client.get_metadata("tls", "1.0.0") == stored
    with open_registry(server.url, token=TOKENS["reader"][1], ca_bundle=str(pki.ca)) as reader:
        assert reader.get_versions("tls") == ["1.0.0"]


def test_client_refuses_a_certificate_it_cannot_verify(pki: Pki, start_server: StartServer) -> None:
    server = start_server(tls_cert=str(pki.cert), tls_key=str(pki.key))
    for ca_bundle in (None, pki.other_ca):
        with RegistryClient(server.url, ca_bundle=ca_bundle) as client, \
             pytest.raises(StoreError, match=r"cannot verify the TLS certificate of https://.*ca_bundle") as caught:
            client.get_all_model_names()
        assert "\n" not in str(caught.value)
    with RegistryClient(f"https://localhost:{server.url.rsplit(':', 1)[1]}", ca_bundle=pki.ca) as by_name:
        assert by_name.get_all_model_names() == []  # the certificate names localhost too


def test_client_takes_its_ca_bundle_from_the_environment(
    pki: Pki, start_server: StartServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = start_server(tls_cert=str(pki.cert), tls_key=str(pki.key))
    for variable in ("MODELREG_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(variable, str(pki.ca))
        with RegistryClient(server.url) as client:
            assert client.get_all_model_names() == []
        monkeypatch.delenv(variable)


def test_client_says_what_is_wrong_with_a_bad_ca_bundle(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read CA certificates from ca_bundle .*missing.pem"):
        RegistryClient("https://127.0.0.1:1", ca_bundle=tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ValueError, match="expected a PEM file"):
        RegistryClient("https://127.0.0.1:1", ca_bundle=tmp_path / "junk.pem")


def test_https_client_against_a_plain_http_server_says_so(start_server: StartServer) -> None:
    server = start_server()
    with RegistryClient(server.url.replace("http://", "https://"), retries=0) as client, \
         pytest.raises(StoreError, match="TLS handshake .* failed .*is it serving HTTPS"):
        client.get_all_model_names()


def test_cli_serves_https_and_its_client_verifies_with_ca_bundle(pki: Pki, tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "modelreg", "--registry", registry_url(tmp_path), "serve", "--port", "0",
            "--tls-cert", str(pki.cert), "--tls-key", str(pki.key), "--header-timeout", "1.5"]
    server = ServerProcess(argv, tmp_path / "server.log", {**ENV, "PYTHONUNBUFFERED": "1"})
    try:
        url = server.wait_listening()
        assert url.startswith("https://")
        done = _modelreg("--registry", url, "--ca-bundle", str(pki.ca), "register", "m", "1.0.0", "--artifact", "a")
        assert done.returncode == 0, done.stderr
        listed = _modelreg("--registry", url, "--json", "versions", "m", env={"MODELREG_CA_BUNDLE": str(pki.ca)})
        assert listed.returncode == 0 and json.loads(listed.stdout)["versions"] == ["1.0.0"]
        refused = _modelreg("--registry", url, "models")
        assert refused.returncode == 6
        assert refused.stderr.startswith("error: cannot verify the TLS certificate") and "--ca-bundle" in refused.stderr
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
        # A client that never finishes the TLS handshake is on the header clock too.
        host, port = url.removeprefix("https://").split(":")
        with socket.create_connection((host, int(port))) as silent:
            silent.settimeout(10)
            started = time.monotonic()
            assert silent.recv(1) == b""
            assert time.monotonic() - started < 6
    finally:
        server.stop()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_serve_refuses_a_public_address_over_plain_http_when_tokens_are_configured(
    host: str, tokens_file: Path
) -> None:
    # An unknown scheme: were the address let through, opening the registry would fail right after binding.
    refused = f"refusing to serve on {host} over plain HTTP.*--tls-cert.*--behind-tls-proxy"
    with pytest.raises(ValueError, match=refused):
        serve("unserved://", host=host, port=0, tokens_file=str(tokens_file))


def test_cli_refuses_a_public_address_over_plain_http(tokens_file: Path) -> None:
    done = _modelreg("--registry", "memory://", "serve", "--host", "0.0.0.0", "--port", "0",
                     "--tokens-file", str(tokens_file))
    assert done.returncode == 2
    assert done.stderr.startswith("error: refusing to serve on 0.0.0.0 over plain HTTP")
    assert "Traceback" not in done.stderr


def test_serve_says_what_is_wrong_with_the_certificate_files(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "junk.pem").write_text("not a certificate")
    with pytest.raises(ValueError, match="cannot load the TLS certificate and key from .*junk.pem"):
        serve("memory://", port=0, tls_cert=str(tmp_path / "junk.pem"), tls_key=str(pki.key))
    with pytest.raises(ValueError, match="cannot load the TLS certificate and key from .*nope.pem"):
        serve("memory://", port=0, tls_cert=str(tmp_path / "nope.pem"))
    with pytest.raises(ValueError, match="tls_key needs tls_cert"):
        serve("memory://", port=0, tls_key=str(pki.key))


def _public_server(tmp_path: Path, *flags: str) -> tuple[ServerProcess, int]:
    argv = [sys.executable, "-m", "modelreg", "--registry", "memory://", "serve", "--host", "0.0.0.0",
            "--port", "0", *flags]
    server = ServerProcess(argv, tmp_path / "public.log", {**ENV, "PYTHONUNBUFFERED": "1"})
    return server, int(server.wait_for(r"modelreg serving \S+ at https?://0\.0\.0\.0:(\d+)")[1])


def test_behind_tls_proxy_allows_plain_http_on_a_public_address(tmp_path: Path, tokens_file: Path) -> None:
    server, port = _public_server(tmp_path, "--tokens-file", str(tokens_file), "--behind-tls-proxy")
    try:
        reply = httpx.get(f"http://127.0.0.1:{port}/api/v1/models", headers=bearer("reader"))
        assert reply.status_code == 200
    finally:
        server.stop()


def test_tls_allows_a_public_address(pki: Pki, tmp_path: Path, tokens_file: Path) -> None:
    server, port = _public_server(tmp_path, "--tokens-file", str(tokens_file), "--tls-cert", str(pki.cert),
                                  "--tls-key", str(pki.key))
    try:
        with RegistryClient(f"https://127.0.0.1:{port}", token=TOKENS["reader"][1], ca_bundle=pki.ca) as client:
            assert client.get_all_model_names() == []
    finally:
        server.stop()
