"""A cookie-keeping client for the UI's page tests: the app in-process over httpx's ASGI transport.

As far as the server can tell it is a browser: it keeps cookies, reads the CSRF field from
the forms a page shows, and signs in with a token from ``serverkit.TOKENS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from modelreg.server import create_app
from modelreg.server.auth import Auth, Role, Token, hash_token
from support.serverkit import TOKENS

__all__ = ["BASE", "UIClient", "browsers", "csrf_field", "ui_auth"]

BASE = "http://t"
_CSRF = re.compile(r'name="csrf" value="([^"]*)"')


def ui_auth() -> Auth:
    """An Auth holding the three tokens of TOKENS (reader: read, writer: write, boss: admin)."""
    return Auth([Token(name, Role[role.upper()], hash_token(secret)) for name, (role, secret) in TOKENS.items()])


def csrf_field(page: str) -> str:
    """The hidden CSRF field of the first form on ``page``."""
    found = _CSRF.search(page)
    assert found is not None, "the page has no form with a csrf field"
    return html.unescape(found[1])


class UIClient:
    """One browser on an in-process app: ``get``/``post`` keep cookies; ``sign_in`` uses the login form."""

    def __init__(self, registry: Any, auth: Auth | None = None) -> None:
        self.app = create_app(registry, auth=auth)
        self._runner = asyncio.Runner()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url=BASE)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET ``path`` as a browser asking for a page."""
        headers = {"Accept": "text/html", **kwargs.pop("headers", {})}
        return self._runner.run(self.http.get(path, headers=headers, **kwargs))

    def post(self, path: str, data: dict[str, str], **kwargs: Any) -> httpx.Response:
        """POST a form to ``path`` (no redirects followed: the 303 is what a test checks)."""
        headers = {"Accept": "text/html", **kwargs.pop("headers", {})}
        return self._runner.run(self.http.post(path, data=data, headers=headers, **kwargs))

    def csrf(self, path: str = "/search") -> str:
        """This browser's CSRF field, read from the sign-out or a form of ``path``."""
        return csrf_field(self.get(path).text)

    def sign_in(self, who: str) -> httpx.Response:
        """Sign in with the token of ``who`` (a key of TOKENS) through the login page."""
        return self.sign_in_with(TOKENS[who][1])

    def sign_in_with(self, token: str) -> httpx.Response:
        """Sign in with ``token`` as a browser does: the login form's CSRF field and cookie, then the token."""
        csrf = csrf_field(self.get("/login").text)
        return self.post("/login", {"csrf": csrf, "token": token, "next": "/"})

    def close(self) -> None:
        """Close the client, the app's event fan-out and the loop."""
        self._runner.run(self.http.aclose())
        self.app.events.close()
        self._runner.close()


@contextlib.contextmanager
def browsers(registry: Any) -> Iterator[Callable[..., UIClient]]:
    """``make(who)``: a client signed in as ``who`` (None: not signed in; ``open=True``: a server with no tokens).

    Every client made is closed on leaving.
    """
    made: list[UIClient] = []

    def make(who: str | None = None, *, open: bool = False) -> UIClient:
        client = UIClient(registry, None if open else ui_auth())
        made.append(client)
        if who is not None:
            assert client.sign_in(who).status_code == 303
        return client

    try:
        yield make
    finally:
        for client in made:
            client.close()
