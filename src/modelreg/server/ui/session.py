"""Who is browsing: the signed-in token from an HttpOnly cookie, and the CSRF token every form carries.

Signing in stores the bearer token itself in ``modelreg_token`` (HttpOnly, SameSite=Strict,
Secure over HTTPS), so each request is checked against the tokens file as an API request
is, and revoking a token signs its browsers out within a second. Forms carry
HMAC(token, ``modelreg_csrf`` cookie): stateless, so it holds across restarts and replicas,
and a page of another site can neither read the cookie nor compute the field.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from starlette.types import Scope

from ...errors import RegistryError
from ..auth import Auth, Role
from ..problems import HTTPProblem

__all__ = [
    "CSRF_COOKIE",
    "SESSION_SECONDS",
    "TOKEN_COOKIE",
    "Visitor",
    "check_csrf",
    "check_origin",
    "clear_cookie",
    "cookie_header",
    "request_cookies",
    "token_cookie",
    "visitor_for",
]

TOKEN_COOKIE = "modelreg_token"
CSRF_COOKIE = "modelreg_csrf"
SESSION_SECONDS = 12 * 3600
"""How long a sign-in lasts in the browser (the token itself may be revoked sooner)."""
_MAX_COOKIE_HEADER = 8192


@dataclass(frozen=True, slots=True)
class Visitor:
    """The person behind a page request: actor name, role, whether signed in, and the CSRF field for forms."""

    actor: str
    role: Role | None  # None: tokens are configured and this browser has not signed in (or its token was revoked)
    signed_in: bool
    csrf: str  # the value of every form's hidden ``csrf`` field
    csrf_cookie: str  # the ``modelreg_csrf`` cookie this browser holds (or is being given)
    new_csrf_cookie: bool  # the response must set it
    token: str | None = None  # the signed-in bearer token (never rendered)
    revoked: bool = False  # a token cookie came in that no longer signs in: clear it
    models: tuple[str, ...] | None = None  # the signed-in token's model scope (None: every model)

    def may(self, role: Role) -> bool:
        """Whether this visitor holds at least ``role``."""
        return self.role is not None and self.role >= role


def request_cookies(scope: Scope) -> dict[str, str]:
    """The request's cookies by name ({} when the header is missing, oversized or malformed)."""
    for key, value in scope["headers"]:
        if key == b"cookie":
            if len(value) > _MAX_COOKIE_HEADER:
                return {}
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:
                return {}
            return {name: morsel.value for name, morsel in jar.items()}
    return {}


def form_token(csrf_cookie: str, token: str | None) -> str:
    """The CSRF field for this browser: bound to its cookie and to the token it is signed in with."""
    key = (token or "open").encode()
    return hmac.new(key, csrf_cookie.encode(), hashlib.sha256).hexdigest()


def visitor_for(auth: Auth | None, scope: Scope) -> Visitor:
    """Who is asking: with no tokens configured everyone is an anonymous admin, as in the API."""
    cookies = request_cookies(scope)
    csrf_cookie = cookies.get(CSRF_COOKIE, "")
    new_cookie = not (20 <= len(csrf_cookie) <= 64 and csrf_cookie.isascii())
    if new_cookie:
        csrf_cookie = secrets.token_urlsafe(32)
    if auth is None:
        return Visitor("anonymous", Role.ADMIN, False, form_token(csrf_cookie, None), csrf_cookie, new_cookie)
    token = _unpack(cookies.get(TOKEN_COOKIE, ""))
    if token:
        try:
            found = auth.identify(f"Bearer {token}")
        except (HTTPProblem, RegistryError):
            return Visitor("anonymous", None, False, form_token(csrf_cookie, None), csrf_cookie, new_cookie,
                           revoked=True)
        return Visitor(found.name, found.role, True, form_token(csrf_cookie, token), csrf_cookie, new_cookie, token,
                       models=found.models)
    return Visitor("anonymous", None, False, form_token(csrf_cookie, None), csrf_cookie, new_cookie)


def token_cookie(scope: Scope, token: str, *, secure: bool) -> tuple[bytes, bytes]:
    """The Set-Cookie header that signs this browser in with ``token`` (base64url: tokens may hold ';' or '"')."""
    packed = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    return cookie_header(scope, TOKEN_COOKIE, packed, SESSION_SECONDS, secure=secure)


def _unpack(value: str) -> str | None:
    if not value or len(value) > 1024:
        return None
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        return None


def check_csrf(visitor: Visitor, sent: str | None) -> None:
    """Refuse a form whose ``csrf`` field is missing or not this browser's (403)."""
    if visitor.new_csrf_cookie or not sent or not hmac.compare_digest(sent, visitor.csrf):
        raise HTTPProblem(
            "forbidden",
            "this form's CSRF token is missing or out of date; reload the page and submit the form again",
        )


def check_origin(scope: Scope) -> None:
    """Refuse a form posted from another site (403), by the ``Sec-Fetch-Site`` and ``Origin`` the browser sends."""
    host = origin = site = None
    for key, value in scope["headers"]:
        if key == b"host":
            host = value.decode("latin-1")
        elif key == b"origin":
            origin = value.decode("latin-1")
        elif key == b"sec-fetch-site":
            site = value.decode("latin-1")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPProblem("forbidden", f"a form posted from another site ({site}) is refused")
    if origin is not None and origin != "null" and host is not None:
        own = f"{scope.get('scheme', 'http')}://{host}"
        if origin != own:
            raise HTTPProblem("forbidden", f"a form posted from {origin[:100]!r} is refused; this server is {own!r}")


def cookie_header(scope: Scope, name: str, value: str, max_age: int, *, secure: bool) -> tuple[bytes, bytes]:
    """A Set-Cookie header: HttpOnly, SameSite=Strict, scoped to the app's path; Secure when asked or over HTTPS."""
    path = scope.get("root_path", "") or "/"
    flag = "; Secure" if secure or scope.get("scheme") == "https" else ""
    text = f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{flag}"
    return b"set-cookie", text.encode("latin-1")


def clear_cookie(scope: Scope, name: str, *, secure: bool) -> tuple[bytes, bytes]:
    """A Set-Cookie header that removes ``name``."""
    return cookie_header(scope, name, "", 0, secure=secure)
