"""AsyncRegistryClient on a real server: the same interface, requests and errors as RegistryClient, concurrently."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from factories import metadata
from modelreg import (
    DuplicateVersionError,
    EventLog,
    InvalidNameError,
    InvalidVersionError,
    ModelRegistry,
    StoreError,
    VersionNotFoundError,
)
from modelreg.client import AsyncRegistryClient, RegistryClient
from support.serverkit import Running, StartServer

_BLOCKING_ONLY = {"__enter__", "__exit__"}  # ``async with`` instead


def _members(protocol: type) -> set[str]:
    return {name for name in dir(protocol) if not name.startswith("_") or name in _BLOCKING_ONLY} - set(dir(object))


def test_every_method_of_the_registry_and_event_log_interfaces_is_a_coroutine() -> None:
    names = (_members(ModelRegistry) | _members(EventLog)) - _BLOCKING_ONLY
    assert {"register_model", "search", "request_promotion", "events_after", "revision", "store_id"} <= names
    missing = {name for name in names if not inspect.iscoroutinefunction(getattr(AsyncRegistryClient, name, None))}
    assert missing == set()
    assert inspect.iscoroutinefunction(AsyncRegistryClient.__aexit__)


def test_a_bad_argument_is_refused_before_any_request_with_the_blocking_clients_error() -> None:
    async def attempt() -> list[BaseException]:
        async with AsyncRegistryClient("http://127.0.0.1:9") as client:  # nothing listens: a request would fail
            calls = [client.get_metadata("bad name", "1.0.0"), client.get_metadata("m", "1.0"),
                     client.events_after(-1), client.resolve("m", 1)]  # type: ignore[arg-type]
            return await asyncio.gather(*calls, return_exceptions=True)

    errors = asyncio.run(attempt())
    assert [type(e) for e in errors] == [InvalidNameError, InvalidVersionError, TypeError, TypeError]
    with RegistryClient("http://127.0.0.1:9") as blocking, pytest.raises(InvalidNameError) as same:
        blocking.get_metadata("bad name", "1.0.0")
    assert str(errors[0]) == str(same.value)


def test_constructor_arguments_are_checked_as_the_blocking_clients_are() -> None:
    for bad, error in [({"timeout": 0}, ValueError), ({"retries": "2"}, TypeError), ({"token": "x y"}, ValueError)]:
        with pytest.raises(error) as blocking:
            RegistryClient("http://127.0.0.1:9", **bad)  # type: ignore[arg-type]
        with pytest.raises(error) as awaited:
            AsyncRegistryClient("http://127.0.0.1:9", **bad)  # type: ignore[arg-type]
        assert str(awaited.value) == str(blocking.value)
    with pytest.raises(ValueError, match="expected http"):
        AsyncRegistryClient("ftp://127.0.0.1:9")


def test_both_clients_send_the_same_requests(module_server: Running) -> None:
    """Same methods, paths, queries and bodies: both run one set of request plans."""
    sent: dict[str, list[tuple[str, str, bytes]]] = {"blocking": [], "async": []}

    def script_steps(prefix: str) -> list[tuple[str, tuple[object, ...], dict[str, object]]]:
        name = f"{prefix}-same"
        return [
            ("register_model", (name, "v1.0.0", metadata()), {}), ("set_alias", (name, "production", "1.0.0"), {}),
            ("resolve", (name, "^1"), {}), ("has_version", (name, "1.0.0"), {}), ("get_aliases", (name,), {}),
            ("annotate", (name, "1.0.0"), {"set_tags": {"k": "v"}}), ("search", ("tags.k = 'v'",), {"name": name}),
            ("history", (name,), {"kinds": ["registered"]}), ("get_alias_policy", (name, "production"), {}),
            ("unregister_model", (name, "1.0.0"), {"force": True}),
        ]

    def record(kind: str, request: httpx.Request) -> None:
        sent[kind].append((request.method, str(request.url).replace("-sync-", "-x-").replace("-asy-", "-x-"),
                           request.read().replace(b"-sync-", b"-x-").replace(b"-asy-", b"-x-")))

    with RegistryClient(module_server.url) as blocking:
        blocking._http.event_hooks["request"].append(lambda r: record("blocking", r))
        for method, args, kwargs in script_steps("m-sync"):
            getattr(blocking, method)(*args, **kwargs)

    async def hook(request: httpx.Request) -> None:
        record("async", request)

    async def run() -> None:
        async with AsyncRegistryClient(module_server.url) as client:
            client._http.event_hooks["request"].append(hook)
            for method, args, kwargs in script_steps("m-asy"):
                await getattr(client, method)(*args, **kwargs)

    asyncio.run(run())
    assert len(sent["blocking"]) >= 10
    assert sent["async"] == sent["blocking"]


def test_problem_answers_raise_the_servers_exception_classes(module_server: Running) -> None:
    async def run() -> tuple[BaseException, BaseException]:
        async with AsyncRegistryClient(module_server.url) as client:
            await client.register_model("m-errors", "1.0.0", metadata())
            duplicate, missing = await asyncio.gather(
                client.register_model("m-errors", "1.0.0+build", metadata()),
                client.get_metadata("m-errors", "9.9.9"), return_exceptions=True)
            assert isinstance(duplicate, BaseException) and isinstance(missing, BaseException)
            return duplicate, missing

    duplicate, missing = asyncio.run(run())
    assert isinstance(duplicate, DuplicateVersionError) and duplicate.name == "m-errors"
    assert isinstance(missing, VersionNotFoundError) and missing.version == "9.9.9"


def test_an_unreachable_or_closed_client_raises_store_error() -> None:
    async def run() -> None:
        client = AsyncRegistryClient("http://127.0.0.1:9", retries=1)
        with pytest.raises(StoreError, match="cannot reach the registry server at http://127.0.0.1:9"):
            await client.get_versions("m")
        async with client:
            pass
        with pytest.raises(StoreError, match="is closed"):
            await client.get_versions("m")

    asyncio.run(run())


def test_concurrent_calls_with_gather_each_get_their_own_answer(module_server: Running) -> None:
    versions = [f"1.0.{patch}" for patch in range(40)]

    async def run() -> list[str]:
        async with AsyncRegistryClient(module_server.url) as client:
            await asyncio.gather(*(client.register_model("m-gather", v, metadata(artifact_path=f"s3://m/{v}"))
                                   for v in versions))
            answers = await asyncio.gather(*(client.get_metadata("m-gather", v) for v in versions))
            assert await client.get_versions("m-gather") == versions
            return [answer.artifact_path for answer in answers]

    assert asyncio.run(run()) == [f"s3://m/{v}" for v in versions]


def test_a_cancelled_call_leaves_no_half_request_behind(module_server: Running) -> None:
    """Each cancelled write happened whole or not at all, and later answers are never another call's."""
    versions = [f"2.0.{patch}" for patch in range(30)]

    async def run() -> None:
        cancelled = 0
        async with AsyncRegistryClient(module_server.url) as client:
            for i, version in enumerate(versions):
                task = asyncio.create_task(
                    client.register_model("m-cancel", version, metadata(artifact_path=f"s3://m/{version}")))
                await asyncio.sleep(i * 0.0004)  # cancelled before sending, mid-flight or after the answer
                if task.cancel():
                    cancelled += 1
                    with pytest.raises(asyncio.CancelledError):
                        await task
            assert cancelled >= 1
            stored = await client.get_versions("m-cancel")
            assert set(stored) <= set(versions)
            answers = await asyncio.gather(*(client.get_metadata("m-cancel", v) for v in stored))
            assert [a.artifact_path for a in answers] == [f"s3://m/{v}" for v in stored]
            for version in sorted(set(versions) - set(stored))[:5]:  # not registered: still free to register
                await client.register_model("m-cancel", version, metadata(artifact_path=f"s3://m/{version}"))

    asyncio.run(run())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, Path]]:
    directory = tmp_path_factory.mktemp("pki")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(directory / "ca.pem"))
    issued.private_key_pem.write_to_path(str(directory / "key.pem"))
    for i, pem in enumerate(issued.cert_chain_pems):
        pem.write_to_path(str(directory / "cert.pem"), append=i > 0)
    yield directory / "ca.pem", directory / "cert.pem", directory / "key.pem"


def test_https_is_verified_by_the_ca_bundle_and_refused_without_it(
    pki: tuple[Path, Path, Path], start_server: StartServer
) -> None:
    ca, cert, key = pki
    server = start_server(tls_cert=str(cert), tls_key=str(key))

    async def run() -> None:
        async with AsyncRegistryClient(server.url, ca_bundle=ca) as client:
            await client.register_model("m-tls", "1.0.0", metadata())
            assert await client.get_versions("m-tls") == ["1.0.0"]
        async with AsyncRegistryClient(server.url) as untrusting:
            with pytest.raises(StoreError, match="cannot verify the TLS certificate.*ca_bundle="):
                await untrusting.get_versions("m-tls")

    assert server.url.startswith("https://")
    asyncio.run(run())
