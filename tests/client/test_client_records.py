"""RegistryClient's search, annotations and model records beyond the conformance suite: checks, errors, values."""

from __future__ import annotations

import http.server
import json
import math
import pickle
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from factories import metadata
from modelreg import InvalidNameError, InvalidVersionError, MetadataError, ModelInfo, QueryError, SearchPage
from modelreg.client import RegistryClient
from modelreg.records import VersionRecord
from modelreg.server.problems import problem_for_error
from support.serverkit import Running


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def client(module_server: Running) -> Iterator[RegistryClient]:
    with RegistryClient(module_server.url) as registry:
        yield registry


def test_a_query_error_keeps_its_position_through_the_wire() -> None:
    status, body = problem_for_error(QueryError("expected a value after '>=' at column 17", position=17))
    response = httpx.Response(status, content=body, headers={"content-type": "application/problem+json"})

    received = RegistryClient("http://127.0.0.1:1").error_for(response)

    assert (status, type(received), received.position) == (400, QueryError, 17)
    assert json.loads(body)["position"] == 17
    assert "position" not in json.loads(problem_for_error(QueryError("no position"))[1])


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda c: c.search(limit=0), QueryError, "1 to 1000"),
    (lambda c: c.search(limit=1001), QueryError, "1 to 1000"),
    (lambda c: c.search(limit="5"), TypeError, "limit"),
    (lambda c: c.search(limit=True), TypeError, "limit"),
    (lambda c: c.search(5), TypeError, "where"),
    (lambda c: c.search(order_by=None), TypeError, "order_by"),
    (lambda c: c.search(cursor=3), TypeError, "cursor"),
    (lambda c: c.search(name="no spaces"), InvalidNameError, "name"),
    (lambda c: c.annotate("m", "1.0.0"), MetadataError, "nothing to annotate"),
    (lambda c: c.annotate("m", "one", description="x"), InvalidVersionError, "one"),
    (lambda c: c.annotate("m", "1.0.0", remove_tags="wip"), TypeError, "remove_tags"),
    (lambda c: c.annotate("m", "1.0.0", set_tags=["k"]), TypeError, "set_tags"),
    (lambda c: c.annotate("m", "1.0.0", set_tags={"k": 5}), MetadataError, "set_tags"),
    (lambda c: c.annotate("m", "1.0.0", set_tags={"k": "v"}, remove_tags=["k"]), MetadataError, "both"),
    (lambda c: c.annotate("m", "1.0.0", add_metrics={"x": math.nan}), MetadataError, "finite"),
    (lambda c: c.annotate("m", "1.0.0", add_metrics={"x": "1"}), MetadataError, "number"),
    (lambda c: c.annotate_model("m"), MetadataError, "nothing to annotate"),
    (lambda c: c.annotate_model("m", description=5), TypeError, "description"),
    (lambda c: c.get_model("bad name"), InvalidNameError, "name"),
    (lambda c: c.delete_model("m", force="yes"), TypeError, "force"),
])
def test_arguments_are_checked_before_any_request(call: Any, error: type[Exception], words: str) -> None:
    with RegistryClient(f"http://127.0.0.1:{_closed_port()}", retries=0) as unreachable, \
            pytest.raises(error, match=words):
        call(unreachable)  # an unreachable server would be a StoreError: nothing was sent


def test_search_gives_frozen_library_values_with_aware_datetimes(client: RegistryClient) -> None:
    client.register_model("cr-values", "1.0.0", metadata())
    client.set_alias("cr-values", "production", "1.0.0")

    page = client.search(name="cr-values")

    assert isinstance(page, SearchPage) and page.total == 1 and page.next_cursor is None
    record = page.items[0]
    assert isinstance(record, VersionRecord)
    assert (record.name, record.version, record.aliases) == ("cr-values", "1.0.0", ("production",))
    assert record.metadata == client.get_metadata("cr-values", "1.0.0")
    assert record.registered_at.tzinfo is not None
    assert pickle.loads(pickle.dumps(page)) == page
    with pytest.raises(TypeError):
        page.items.append(record)  # type: ignore[attr-defined]


def test_get_model_gives_a_frozen_model_info(client: RegistryClient) -> None:
    client.register_model("cr-info", "1.0.0", metadata())

    info = client.get_model("cr-info")

    assert isinstance(info, ModelInfo) and info.created_at.tzinfo is not None
    assert (info.version_count, info.latest) == (1, "1.0.0")
    with pytest.raises(TypeError):
        info.tags["x"] = "y"  # type: ignore[index]
    assert pickle.loads(pickle.dumps(info)) == info


class _Garbled(http.server.BaseHTTPRequestHandler):
    """A server that answers 200 with JSON that is not what the API sends."""

    def do_GET(self) -> None:
        body = b'{"items": [{"name": "m"}], "total": "many"}' if "search" in self.path else b'{"name": 5}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


def test_an_answer_that_is_not_a_search_page_or_model_record_is_a_store_error() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Garbled)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with RegistryClient(f"http://127.0.0.1:{server.server_address[1]}") as client:
            with pytest.raises(Exception, match="search page this client cannot read") as searched:
                client.search()
            with pytest.raises(Exception, match="model record this client cannot read") as got:
                client.get_model("m")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert searched.value.code == got.value.code == "store_unavailable"  # type: ignore[attr-defined]
