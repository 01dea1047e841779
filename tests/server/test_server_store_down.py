"""A store that fails for real: the server answers 503 store_unavailable, the client raises StoreError."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from factories import metadata
from fixtures.postgres_backend import sql_fixture  # noqa: F401 - registers the `sql` fixture
from modelreg import StoreError
from modelreg.client import RegistryClient
from support.serverkit import StartServer


@pytest.mark.postgres
def test_a_broken_store_is_a_503_and_a_store_error(postgres_schema_url: str, sql: Any,
                                                  start_server: StartServer) -> None:
    server = start_server(postgres_schema_url)
    with RegistryClient(server.url) as client:
        client.register_model("down", "1.0.0", metadata())
        assert httpx.get(f"{server.url}/readyz").status_code == 200

        sql.execute("DROP TABLE events CASCADE")  # behind the server's back: every write and history query fails

        with pytest.raises(StoreError):
            client.register_model("down", "2.0.0", metadata())
        with pytest.raises(StoreError):
            client.history("down")
        ready = httpx.get(f"{server.url}/readyz")
        assert ready.status_code == 503 and ready.json()["code"] == "store_unavailable"
        assert client.get_versions("down") == ["1.0.0"]  # reads still come from the snapshot

    assert "unexpected error" not in server.logs()
    assert "Traceback" not in httpx.get(f"{server.url}/readyz").text
