"""``Page``: what a UI handler gets (the request, its visitor, its query) and how it answers (``render``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.types import Receive, Scope

from ..._paths import fill
from ...registry import ModelRegistry
from ..auth import Role
from ..call import App, Call, Reply
from ..problems import HTTPProblem
from . import paths
from .memo import RevisionMemo
from .render import Renderer
from .session import Sessions, Visitor, check_csrf, check_origin

__all__ = ["MAX_FIELD", "Page", "PageHandler", "Redirect"]

MAX_FIELD = 8192
"""Longest value one query parameter or form field may have (a ``where`` query is at most 4096 characters)."""
_MAX_FIELDS = 64
_FORM = b"application/x-www-form-urlencoded"


class Redirect(Exception):
    """Answer with 303 See Other to ``location`` (a path inside the app); raised by handlers after a write."""

    def __init__(self, location: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(location)
        self.location = location
        self.headers = headers or []


def _pairs(text: str, what: str) -> list[tuple[str, str]]:
    try:
        pairs = parse_qsl(text, keep_blank_values=True, errors="strict", max_num_fields=_MAX_FIELDS)
    except UnicodeDecodeError:  # a ValueError too: never store U+FFFD for bytes that were sent
        raise HTTPProblem("invalid_parameter", f"the {what} are not valid UTF-8 once percent-decoded") from None
    except ValueError:
        raise HTTPProblem("invalid_parameter", f"more than {_MAX_FIELDS} {what}") from None
    for key, value in pairs:
        if len(value) > MAX_FIELD:
            raise HTTPProblem("invalid_parameter", f"{what[:-1]} {key[:40]!r} is longer than {MAX_FIELD} characters")
    return pairs


class Page:
    """One UI request: the app, the visitor, the query (a key may repeat), and the ``Call`` that writes go through."""

    __slots__ = ("_query", "app", "call", "memo", "renderer", "scope", "secure_cookies", "sessions", "visitor")

    def __init__(
        self,
        app: App,
        renderer: Renderer,
        scope: Scope,
        receive: Receive,
        visitor: Visitor,
        *,
        sessions: Sessions,
        memo: RevisionMemo,
        secure_cookies: bool,
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.memo = memo  # the app's values derived per registry revision (memo.py)
        self.secure_cookies = secure_cookies  # behind a TLS proxy the scheme we see is http, the browser's https
        self.renderer = renderer
        self.scope = scope
        self.visitor = visitor
        self._query: dict[str, list[str]] | None = None
        self.call = Call(app, scope, receive, {})
        self.call.actor, self.call.role, self.call.models = visitor.actor, visitor.role, visitor.models

    @property
    def query(self) -> dict[str, list[str]]:
        """The query's values by key, parsed on first use (400 page when it is too long or has too many fields)."""
        if self._query is None:
            raw: bytes = self.scope["query_string"]
            query: dict[str, list[str]] = {}
            try:
                text = raw.decode("ascii")  # browsers percent-encode the rest
            except UnicodeDecodeError:
                raise HTTPProblem("invalid_parameter", "the query string is not percent-encoded ASCII") from None
            for key, value in _pairs(text, "query parameters") if text else ():
                query.setdefault(key, []).append(value)
            self._query = query
        return self._query

    @property
    def registry(self) -> ModelRegistry:
        """The registry this page reads and writes: empty for a model outside the visitor's scope (``Call.enter``)."""
        return self.call.registry

    @property
    def root(self) -> str:
        """The app's mount path ('' at the root): every link starts with it."""
        return str(self.scope.get("root_path", ""))

    @property
    def path(self) -> str:
        """This page's path inside the app, with its query (where sign-in returns to)."""
        query: bytes = self.scope["query_string"]
        path: str = self.scope["path"]
        if self.root and path.startswith(self.root):
            path = path[len(self.root) :]
        return path + (f"?{query.decode('latin-1')}" if query else "")

    def arg(self, name: str, default: str = "") -> str:
        """The first value of query parameter ``name``, or ``default``."""
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """Every value of query parameter ``name`` (``?v=1.0.0&v=1.1.0``)."""
        return self.query.get(name, [])

    def int_arg(self, name: str, default: int, *, minimum: int = 1, maximum: int = 1_000_000) -> int:
        """A whole-number query parameter (400 page when it is not one in range)."""
        text = self.arg(name)
        if not text:
            return default
        if not (text.isascii() and text.isdigit() and len(text) <= 9 and minimum <= int(text) <= maximum):
            raise HTTPProblem(
                "invalid_parameter", f"{name} must be a whole number from {minimum} to {maximum}, not {text[:40]!r}"
            )
        return int(text)

    def require(self, role: Role, what: str) -> None:
        """403 unless the visitor holds ``role``."""
        self.call.require(role, what)

    async def form(self) -> dict[str, str]:
        """The posted form, after the origin and CSRF checks; a field may appear once."""
        check_origin(self.scope, https=self.secure_cookies)
        content_type, *params = (self.call.header(b"content-type") or "").lower().split(";")
        charset = next((p.partition("=")[2].strip(' "') for p in params if p.strip().startswith("charset=")), "utf-8")
        if content_type.strip().encode() != _FORM or charset != "utf-8":
            raise HTTPProblem(
                "unsupported_media_type", "forms are posted as application/x-www-form-urlencoded in UTF-8"
            )
        body = await self.call.body()
        try:
            text = body.decode("ascii")  # a urlencoded body is ASCII: anything else was not sent by a form
        except UnicodeDecodeError:
            raise HTTPProblem("invalid_parameter", "the form body is not urlencoded ASCII") from None
        fields: dict[str, str] = {}
        for key, value in _pairs(text, "form fields"):
            if key in fields:
                raise HTTPProblem("invalid_parameter", f"form field {key[:40]!r} given more than once")
            fields[key] = value
        check_csrf(self.visitor, fields.pop("csrf", None))
        return fields

    def url(self, path: str, **query: str | list[str]) -> str:
        """``path`` inside the app, with a query string of the non-empty values."""
        pairs = [(k, v) for k, vs in query.items() for v in ([vs] if isinstance(vs, str) else vs) if v != ""]
        return self.root + path + (f"?{urlencode(pairs)}" if pairs else "")

    def href(self, template: str, query: Mapping[str, str | list[str]] | None = None, **values: str) -> str:
        """A link to the UI path ``template`` (from ``paths``) with its parameters filled and an optional query."""
        return self.url(fill(template, **values), **(query or {}))

    def page_link(self, number: int) -> str:
        """This page's URL with its other query parameters kept and ``page`` set to ``number``."""
        query = {key: values for key, values in self.query.items() if key != "page"}
        path: str = self.scope["path"]
        base = path[len(self.root) :] if self.root and path.startswith(self.root) else path
        return self.url(base, **query, page=str(number))

    def static(self, file: str) -> str:
        """The URL of a static asset, with its content hash so a new release is fetched anew."""
        asset = self.renderer.assets[file]
        return self.url(fill(paths.STATIC, file=file), v=asset.digest)

    def render(self, template: str, *, status: int = 200, **context: Any) -> Reply:
        """An HTML reply of ``template`` with the layout's context (visitor, links, CSRF field)."""
        base = {
            "status": status,
            "nav": "",
            "visitor": self.visitor,
            "open": self.app.auth is None,
            "here": self.path,
            "href": self.href,
            "static": self.static,
            "paths": paths,
            "root_url": self.root,
            "page_link": self.page_link,
        }
        return self.renderer.reply(template, {**base, **context}, status=status)


PageHandler = Callable[..., Awaitable[Reply] | Reply]
"""A UI handler: ``handler(page, *path_params)``, a plain function for reads, a coroutine for writes."""
