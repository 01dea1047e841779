"""Test-only launcher: one uvicorn process that hosts a fresh ``create_app(registry)`` per test.

Starting a server per test costs ~0.5 s; this serves every test of a session from
one process instead, each under its own path prefix ``/t/<id>`` with its own new
registry (SQLite file when the store exists, else memory), like independent apps
behind one reverse proxy. The product API is untouched: ``POST /tenants``,
``POST /tenants/<id>/tokens`` and ``DELETE /tenants/<id>`` belong to this launcher only.

``POST /tenants`` with ``{"auth": true}`` makes a tenant that needs tokens: it answers the
secret of an admin token named ``admin``; ``POST /tenants/<id>/tokens`` with ``{"name",
"role"}`` adds another token to it at once and answers its secret.

Run: ``python tests/support/tenants.py DIRECTORY`` prints ``listening on http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import secrets
import socket
import sys
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn

from modelreg import MemoryRegistry, ModelRegistry, open_registry
from modelreg.server import create_app
from modelreg.server.app import ModelregApp
from modelreg.server.auth import Auth, Role, Token, hash_token

HAS_SQLITE = importlib.util.find_spec("modelreg.stores.sqlite") is not None


class Tenants:
    """ASGI app: ``/tenants`` to create and drop apps, ``/t/<id>/…`` to reach one."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._ids = itertools.count(1)
        self._apps: dict[str, tuple[ModelregApp, ModelRegistry]] = {}

    def _new_registry(self, tenant: str) -> ModelRegistry:
        if HAS_SQLITE:
            return open_registry(f"sqlite:///{self._directory / f'tenant-{tenant}.db'}")
        return MemoryRegistry()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            for tenant in list(self._apps):
                await self._drop(tenant)
            await send({"type": "lifespan.shutdown.complete"})
            return
        parts = scope["path"].split("/")
        if parts[1:2] == ["tenants"]:
            await self._admin(scope, receive, send, parts[2:])
        elif parts[1:2] == ["t"] and len(parts) > 2 and parts[2] in self._apps:
            root = f"/t/{parts[2]}"
            await self._apps[parts[2]][0]({**scope, "root_path": scope.get("root_path", "") + root}, receive, send)
        else:
            await _reply(send, 404, {"error": f"no tenant for {scope['path']}"})

    async def _admin(self, scope: dict[str, Any], receive: Any, send: Any, rest: list[str]) -> None:
        if scope["method"] == "POST" and not rest:
            options = await _body(receive)
            tenant = str(next(self._ids))
            registry = await anyio.to_thread.run_sync(self._new_registry, tenant)
            secret = _secret()
            auth = Auth([Token("admin", Role.ADMIN, hash_token(secret))]) if options.get("auth") else None
            self._apps[tenant] = (create_app(registry, auth=auth), registry)
            answer = {"id": tenant, "backend": "sqlite" if HAS_SQLITE else "memory"}
            await _reply(send, 201, {**answer, "token": secret} if auth is not None else answer)
        elif scope["method"] == "POST" and len(rest) == 2 and rest[0] in self._apps and rest[1] == "tokens":
            wanted = await _body(receive)
            auth = self._apps[rest[0]][0].auth
            if auth is None:
                await _reply(send, 409, {"error": "this tenant was made without auth"})
                return
            secret = _secret()
            auth.tokens = (*auth.tokens, Token(wanted["name"], Role[wanted["role"].upper()], hash_token(secret)))
            await _reply(send, 201, {"token": secret})
        elif scope["method"] == "DELETE" and len(rest) == 1 and rest[0] in self._apps:
            await self._drop(rest[0])
            await _reply(send, 204, None)
        else:
            await _reply(send, 404, {"error": "unknown tenant request"})

    async def _drop(self, tenant: str) -> None:
        app, registry = self._apps.pop(tenant)
        app.events.close()
        await anyio.to_thread.run_sync(registry.close)


def _secret() -> str:
    return "tok-" + secrets.token_urlsafe(16)


async def _body(receive: Any) -> dict[str, Any]:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    data = b"".join(chunks)
    return json.loads(data) if data else {}


async def _reply(send: Any, status: int, payload: object) -> None:
    body = b"" if payload is None else json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    directory = Path(sys.argv[1])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # before announcing: a client that reads the line may connect at once
    config = uvicorn.Config(Tenants(directory), lifespan="on", access_log=False, log_level="warning")
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
