"""``WebUI``: the pages ``modelreg serve`` answers beside the JSON API, and the one place their errors become pages.

The app hands every request outside the API's paths to ``WebUI.answer``. Reads need
the ``read`` role when tokens are configured (a browser without a sign-in is sent to
the login page); every write is a POST form that passes the origin and CSRF checks.
"""

from __future__ import annotations

import logging

from starlette.types import Receive, Scope

from ...errors import RegistryError
from ..call import App, Reply, Route
from ..problems import HTTPProblem, status_for
from ..router import Router
from . import paths
from .memo import RevisionMemo
from .page import Page, Redirect
from .render import HTML, SECURITY_HEADERS, Renderer
from .routes import UI_ROUTES
from .session import CSRF_COOKIE, SESSION_SECONDS, TOKEN_COOKIE, Sessions, Visitor, clear_cookie, cookie_header

__all__ = ["WebUI"]

_log = logging.getLogger("modelreg.server")
_REASONS = {400: "Bad request", 401: "Sign-in required", 403: "Not allowed", 404: "Not found",
            405: "Method not allowed", 409: "Conflict", 410: "Gone", 413: "Too large", 415: "Unsupported form",
            422: "Invalid input", 500: "Server error", 503: "Store unavailable"}


class WebUI:
    """The UI's router, templates and error pages for one app."""

    def __init__(self, app: App, *, secure_cookies: bool = False) -> None:
        self.app = app
        self.secure_cookies = secure_cookies  # set by serve behind a TLS-terminating proxy
        self.renderer = Renderer()
        self.sessions = Sessions.from_environment()
        self.memo = RevisionMemo(app.log)
        self.router = Router(UI_ROUTES)
        self._incidents = 0

    def takes(self, scope: Scope, segments: list[str]) -> bool:
        """Whether a request outside the API is the UI's: one of its pages, or anything a browser asks for.

        An API client (no ``text/html`` in Accept) asking for an unknown path still gets the API's problem JSON.
        """
        if self.router.match(segments) is not None:
            return True
        return any(key == b"accept" and b"text/html" in value for key, value in scope["headers"])

    async def answer(self, scope: Scope, receive: Receive, segments: list[str]) -> tuple[Reply, str, str]:
        """The reply to one page request, the route template it matched (for metrics) and the actor (for the log)."""
        visitor = self.sessions.visitor(self.app.auth, scope)
        page = Page(self.app, self.renderer, scope, receive, visitor, sessions=self.sessions,
                    memo=self.memo, secure_cookies=self.secure_cookies)
        template = "(ui unmatched)"
        try:
            found = self.router.match(segments)
            if found is None:
                raise HTTPProblem("not_found", f"there is no page at {page.path[:200]!r}")
            route, params = found
            template = route.template
            reply = await self._dispatch(page, route, params)
        except Redirect as moved:
            reply = Reply(303, b"", HTML, [(b"location", moved.location.encode()), *moved.headers])
        except RegistryError as exc:
            reply = self._error(page, status_for(exc), exc.message)
        except HTTPProblem as exc:
            reply = self._error(page, exc.status, exc.detail)
            reply.headers = (reply.headers or []) + [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
        except Exception:
            self._incidents += 1
            _log.exception("unexpected error #%d rendering %s %s", self._incidents, scope["method"], scope["path"])
            reply = self._error(page, 500, f"unexpected server error; the server logged it as incident "
                                           f"#{self._incidents}")
        reply.headers = (reply.headers or []) + self._cookies(scope, visitor, self.secure_cookies)
        return reply, template, visitor.actor

    async def _dispatch(self, page: Page, route: Route, params: list[str]) -> Reply:
        method: str = page.scope["method"]
        endpoint = route.methods.get("GET" if method == "HEAD" else method)
        if endpoint is None:
            allowed = ", ".join(sorted({*route.methods, "HEAD"} if "GET" in route.methods else route.methods))
            raise HTTPProblem("method_not_allowed", f"{method} is not allowed here; this page accepts {allowed}",
                              headers={"Allow": allowed})
        if endpoint.role is not None:
            if page.visitor.role is None:
                if method in ("GET", "HEAD"):
                    raise Redirect(page.href(paths.LOGIN, {"next": page.path}))
                raise HTTPProblem("unauthorized", "sign in first: this server requires a token")
            page.require(endpoint.role, f"{method} {route.template}")
        if route.model is not None and page.call.models is not None:
            page.call.enter(params[route.model])  # another model's pages are the 404 of a missing one
        result = endpoint.handler(page, *params)
        reply = result if isinstance(result, Reply) else await result
        if not isinstance(reply, Reply):
            raise TypeError(f"a UI handler answered {type(reply).__name__}, not a Reply")
        return reply

    def _error(self, page: Page, status: int, detail: str) -> Reply:
        title = _REASONS.get(status, "Error")
        try:
            return page.render("error.html", status=status, title=title, detail=detail)
        except Exception:  # the layout itself failed: still a page, never a traceback
            _log.exception("the error page failed to render")
            text = f"<!doctype html><title>{status}</title><h1>{status}</h1><p>The page could not be shown.</p>"
            return Reply(status, text.encode(), HTML, list(SECURITY_HEADERS))

    @staticmethod
    def _cookies(scope: Scope, visitor: Visitor, secure: bool) -> list[tuple[bytes, bytes]]:
        headers = []
        if visitor.new_csrf_cookie:
            headers.append(cookie_header(scope, CSRF_COOKIE, visitor.csrf_cookie, SESSION_SECONDS, secure=secure))
        if visitor.revoked:
            headers.append(clear_cookie(scope, TOKEN_COOKIE, secure=secure))
        return headers
