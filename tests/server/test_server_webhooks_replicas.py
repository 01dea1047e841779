"""Two ``modelreg serve`` replicas over one PostgreSQL database: every event is delivered exactly once.

Each webhook is claimed in the database with a lease; the replica holding it delivers, the
other does not, whichever replica took the write. When the holder is killed, the other takes
the lease over once it lapses and resumes from the stored position.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from support.receiver import Receiver
from support.serverkit import StartServer, bearer, put_version

pytestmark = pytest.mark.postgres

FAST = {"MODELREG_WEBHOOK_BACKOFF": "0.05", "MODELREG_WEBHOOK_MAX_BACKOFF": "0.4", "MODELREG_WEBHOOK_LEASE": "1"}
WRITES = 40


def test_two_replicas_deliver_every_event_exactly_once_and_a_survivor_takes_over(
    start_server: StartServer, postgres_schema_url: str, tokens_file: Path
) -> None:
    receiver = Receiver().start()
    replicas = [start_server(postgres_schema_url, env=FAST, tokens_file=str(tokens_file)) for _ in range(2)]
    clients = [httpx.Client(base_url=r.url, headers=bearer("boss"), timeout=30) for r in replicas]
    try:
        for index, events in enumerate((["registered"], None)):
            body = {"url": receiver.url + f"/{index}", **({"events": events} if events else {})}
            assert clients[index].post("/api/v1/webhooks", json=body).status_code == 201

        def write(client: httpx.Client, model: str) -> None:
            for patch in range(WRITES // 2):
                put_version(client, model, f"1.0.{patch}")

        threads = [threading.Thread(target=write, args=(c, f"m{i}")) for i, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        receiver.wait_delivered(2 * WRITES)
        # Progress is stored in batches (twice a second): a kill before that would re-deliver the tail.
        _stored_up_to(clients[1], WRITES)
        replicas[0].process.stop(signal.SIGKILL)  # whatever it held passes to the other within a lease
        for patch in range(5):
            put_version(clients[1], "after", f"1.0.{patch}")
        receiver.wait_delivered(2 * WRITES + 10)
        got = Counter((r.headers["x-modelreg-delivery"]) for r in receiver.received)
        assert set(got.values()) == {1}, [key for key, n in got.items() if n > 1]
        for hook in clients[1].get("/api/v1/webhooks").json()["webhooks"]:
            revisions = [r.revision for r in receiver.received if r.json["webhook"] == hook["id"]]
            assert revisions == list(range(1, WRITES + 6)), hook  # in order, none missing
    finally:
        for client in clients:
            client.close()
        receiver.stop()


def _stored_up_to(client: httpx.Client, revision: int, timeout: float = 20.0) -> None:
    """Wait until every webhook's stored position has reached ``revision``."""
    deadline = time.monotonic() + timeout
    while any(hook["position"] < revision for hook in client.get("/api/v1/webhooks").json()["webhooks"]):
        assert time.monotonic() < deadline, "positions not stored in time"
        time.sleep(0.05)
