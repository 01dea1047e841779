"""Who is browsing: a signed sign-in cookie, the CSRF token every form carries, and the origin checks.

Signing in checks the token once and gives the browser ``modelreg_token``: the token's
*name*, an expiry and an HMAC over both and the token's stored hash, keyed by the server's
session secret. The cookie never holds the token itself (browsers send cookies to every
port of a host), lasts at most ``SESSION_SECONDS``, and stops working as soon as the
token is revoked or replaced. Forms carry HMAC(secret, ``modelreg_csrf`` cookie + the
session). ``$MODELREG_SESSION_SECRET`` shares the secret between replicas and restarts;
without it each process makes its own, and browsers sign in again after a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from starlette.types import Scope

from ..auth import Auth, Role, Token
from ..problems import HTTPProblem

__all__ = [
    "CSRF_COOKIE",
    "SECRET_ENV",
    "SESSION_SECONDS",
    "TOKEN_COOKIE",
    "Sessions",
    "Visitor",
    "check_csrf",
    "check_origin",
    "clear_cookie",
    "cookie_header",
    "request_cookies",
]

TOKEN_COOKIE = "modelreg_token"
CSRF_COOKIE = "modelreg_csrf"
SESSION_SECONDS = 12 * 3600
"""How long a sign-in lasts in the browser (the token itself may be revoked sooner)."""
SECRET_ENV = "MODELREG_SESSION_SECRET"
_MIN_SECRET = 32
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
    revoked: bool = False  # a sign-in cookie came in that no longer signs in: clear it
    models: tuple[str, ...] | None = None  # the signed-in token's model scope (None: every model)

    def may(self, role: Role) -> bool:
        """Whether this visitor holds at least ``role``."""
        return self.role is not None and self.role >= role


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class Sessions:
    """Issues and checks sign-in cookies and CSRF fields with one secret (per app)."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < _MIN_SECRET:
            raise ValueError(f"the session secret must be at least {_MIN_SECRET} bytes")
        self._secret = secret

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Sessions:
        """The secret of ``$MODELREG_SESSION_SECRET`` (32 characters or more), else a new random one."""
        text = (os.environ if environ is None else environ).get(SECRET_ENV, "")
        if not text:
            return cls(secrets.token_bytes(32))
        if len(text) < _MIN_SECRET:
            raise ValueError(f"${SECRET_ENV} must be at least {_MIN_SECRET} characters (e.g. `openssl rand -hex 32`)")
        return cls(text.encode())

    def _mac(self, *parts: str) -> str:
        return hmac.new(self._secret, "\n".join(parts).encode(), hashlib.sha256).hexdigest()

    def issue(self, token: Token, *, now: float | None = None) -> str:
        """The cookie value that signs a browser in as ``token`` until ``SESSION_SECONDS`` from now."""
        expiry = str(int(time.time() if now is None else now) + SESSION_SECONDS)
        return f"{_b64(token.name.encode())}.{expiry}.{self._mac('session', token.name, expiry, token.sha256)}"

    def check(self, auth: Auth, value: str, *, now: float | None = None) -> Token | None:
        """The token a cookie value stands for, or None when it is forged, expired or its token is gone."""
        parts = value.split(".")
        if len(parts) != 3 or len(value) > 512 or not parts[1].isdigit():
            return None
        encoded, expiry, mac = parts
        try:
            name = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
        except (binascii.Error, ValueError):
            return None
        if int(expiry) <= (time.time() if now is None else now):
            return None
        token = auth.named(name)
        if token is None or not hmac.compare_digest(mac, self._mac("session", name, expiry, token.sha256)):
            return None
        return token

    def form_token(self, csrf_cookie: str, session: str | None) -> str:
        """The CSRF field for this browser: bound to its csrf cookie and to its sign-in."""
        return self._mac("csrf", csrf_cookie, session or "open")

    def visitor(self, auth: Auth | None, scope: Scope) -> Visitor:
        """Who is asking: with no tokens configured everyone is an anonymous admin, as in the API."""
        cookies = request_cookies(scope)
        csrf_cookie = cookies.get(CSRF_COOKIE, "")
        new_cookie = not (20 <= len(csrf_cookie) <= 64 and csrf_cookie.isascii())
        if new_cookie:
            csrf_cookie = secrets.token_urlsafe(32)
        if auth is None:
            return Visitor("anonymous", Role.ADMIN, False, self.form_token(csrf_cookie, None), csrf_cookie, new_cookie)
        session = cookies.get(TOKEN_COOKIE, "")
        found = self.check(auth, session) if session else None
        if found is None:
            return Visitor("anonymous", None, False, self.form_token(csrf_cookie, None), csrf_cookie, new_cookie,
                           revoked=bool(session))
        return Visitor(found.name, found.role, True, self.form_token(csrf_cookie, session), csrf_cookie, new_cookie,
                       models=found.models)


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


def check_csrf(visitor: Visitor, sent: str | None) -> None:
    """Refuse a form whose ``csrf`` field is missing or not this browser's (403)."""
    if visitor.new_csrf_cookie or not sent or not hmac.compare_digest(sent, visitor.csrf):
        raise HTTPProblem(
            "forbidden",
            "this form's CSRF token is missing or out of date; reload the page and submit the form again",
        )


def check_origin(scope: Scope, *, https: bool) -> None:
    """Refuse a form posted from another site (403).

    Browsers that send ``Sec-Fetch-Site`` (every current one) are judged by it alone, which
    holds behind a proxy that rewrites the scheme or the host; others by ``Origin`` against
    this server's origin (``https`` when a TLS proxy is in front).
    """
    host = origin = site = None
    for key, value in scope["headers"]:
        if key == b"host":
            host = value.decode("latin-1")
        elif key == b"origin":
            origin = value.decode("latin-1")
        elif key == b"sec-fetch-site":
            site = value.decode("latin-1")
    if site is not None:
        if site not in ("same-origin", "none"):
            raise HTTPProblem("forbidden", f"a form posted from another site ({site[:40]}) is refused")
        return
    if origin is None:
        return  # not a browser, or one too old to say: the CSRF field still has to match
    own = f"{'https' if https or scope.get('scheme') == 'https' else 'http'}://{host}"
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
