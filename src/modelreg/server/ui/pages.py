"""The models page (``/``), signing in and out, and the static assets."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import RegistryError
from ...records import ModelInfo
from ...registry import ModelRegistry
from ..call import Reply
from ..problems import HTTPProblem
from . import paths
from .page import Page, Redirect
from .session import SESSION_SECONDS, TOKEN_COOKIE, clear_cookie, cookie_header

__all__ = ["MODELS_PER_PAGE", "login", "login_page", "logout", "models_page", "safe_next", "static_file"]

MODELS_PER_PAGE = 50
_MAX_FILTER = 200
_SORTS = {"name": "name", "changed": "last change"}


@dataclass(frozen=True, slots=True)
class Pager:
    """Page ``number`` of ``pages`` (1-based) over ``total`` items."""

    number: int
    pages: int
    total: int


def pager(total: int, number: int, per_page: int) -> Pager:
    """The page numbering for ``total`` items; a page past the end is a 404 page naming how many there are."""
    pages = max(1, -(-total // per_page))
    if number > pages:
        raise HTTPProblem("not_found", f"page {number} is past the end: there {'is' if pages == 1 else 'are'} "
                                       f"{pages} page{'' if pages == 1 else 's'}")
    return Pager(number, pages, total)


def _info(registry: ModelRegistry, name: str) -> ModelInfo | None:
    """The model's record, or None when it was deleted since its name was listed."""
    try:
        return registry.get_model(name)
    except RegistryError:
        return None


def models_page(page: Page) -> Reply:
    """GET / : every model with its description, version count, latest version, aliases and last change."""
    text = page.arg("q").strip()
    if len(text) > _MAX_FILTER:
        raise HTTPProblem("invalid_parameter", f"the filter is longer than {_MAX_FILTER} characters")
    sort = page.arg("sort", "name")
    if sort not in _SORTS:
        raise HTTPProblem("invalid_parameter", f"sort must be one of {', '.join(_SORTS)}, not {sort[:40]!r}")
    number = page.int_arg("page", 1)
    registry = page.registry
    names = sorted(page.call.visible_names(registry.get_all_model_names()))
    everyone = len(names)
    infos: list[ModelInfo] | None = None
    if text:
        wanted = text.casefold()
        infos = [info for name in names if (info := _info(registry, name)) is not None
                 and (wanted in name.casefold() or wanted in info.description.casefold())]
    elif sort == "changed":
        infos = [info for name in names if (info := _info(registry, name)) is not None]
    if infos is not None:
        if sort == "changed":
            infos.sort(key=lambda info: info.updated_at, reverse=True)
        at = pager(len(infos), number, MODELS_PER_PAGE)
        shown = infos[(number - 1) * MODELS_PER_PAGE : number * MODELS_PER_PAGE]
    else:
        at = pager(len(names), number, MODELS_PER_PAGE)
        window = names[(number - 1) * MODELS_PER_PAGE : number * MODELS_PER_PAGE]
        shown = [info for name in window if (info := _info(registry, name)) is not None]
    return page.render("models.html", nav="models", models=shown, pager=at, filter=text, sort=sort, sorts=_SORTS,
                       everyone=everyone)


def safe_next(target: str) -> str:
    """Where to go after signing in: a path inside this app, never another site ('/' otherwise)."""
    if (target.startswith("/") and not target.startswith(("//", "/\\")) and len(target) <= 2000
            and target.isascii() and target.isprintable()):
        return target
    return "/"


def login_page(page: Page) -> Reply:
    """GET /login: the sign-in form (servers without tokens need none, so it sends you on)."""
    if page.app.auth is None:
        raise Redirect(page.href(paths.MODELS))
    return page.render("login.html", next=safe_next(page.arg("next", "/")), error="")


async def login(page: Page) -> Reply:
    """POST /login: check the token against the server's tokens and keep it in an HttpOnly cookie."""
    form = await page.form()
    target = safe_next(form.get("next", "/"))
    auth = page.app.auth
    if auth is None:
        raise Redirect(page.url(target))
    token = form.get("token", "").strip()
    try:
        if not token:
            raise HTTPProblem("unauthorized", "enter a token")
        found = auth.identify(f"Bearer {token}")
    except HTTPProblem as exc:
        reason = "that token is not valid for this server" if token else exc.detail
        return page.render("login.html", status=401, next=target, error=reason)
    session = page.sessions.issue(found)  # the cookie names the token and is signed; it never holds the secret
    cookie = cookie_header(page.scope, TOKEN_COOKIE, session, SESSION_SECONDS, secure=page.secure_cookies)
    raise Redirect(page.url(target), [cookie])


async def logout(page: Page) -> Reply:
    """POST /logout: forget the token cookie."""
    await page.form()
    raise Redirect(page.href(paths.LOGIN if page.app.auth is not None else paths.MODELS),
                   [clear_cookie(page.scope, TOKEN_COOKIE, secure=page.secure_cookies)])


def static_file(page: Page, file: str) -> Reply:
    """GET /static/{file}: the UI's stylesheet and script, cached for a year when asked for by content hash."""
    asset = page.renderer.assets.get(file)
    if asset is None:
        raise HTTPProblem("not_found", f"there is no static file {file[:100]!r}")
    cache = b"public, max-age=31536000, immutable" if page.arg("v") == asset.digest else b"public, max-age=300"
    headers = [(b"cache-control", cache), (b"x-content-type-options", b"nosniff")]
    return Reply(200, asset.body, asset.content_type, headers)
