"""Templates and static files: one Jinja2 environment (autoescaping, strict undefined) and the UI's assets.

Every page answer carries the same security headers: a Content-Security-Policy that
allows only this server's own scripts and styles (no inline script or style, no other
origin), no framing, no sniffing, and ``no-store`` since pages show a signed-in view.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import jinja2

from ..call import Reply
from .grants import may_write
from .notices import notice_for

__all__ = ["HTML", "SECURITY_HEADERS", "Asset", "Renderer", "format_metric", "format_when"]

HTML = b"text/html; charset=utf-8"
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
)
_TYPES = {".css": b"text/css; charset=utf-8", ".js": b"text/javascript; charset=utf-8", ".svg": b"image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    """A static file served from memory: its bytes, content type and a short content hash for cache busting."""

    body: bytes
    content_type: bytes
    digest: str


def format_when(value: datetime | None) -> str:
    """A moment as people read it in a table: ``2026-11-20 14:02 UTC``."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def format_metric(value: object) -> str:
    """A metric compactly and without losing what matters: ``0.7512``, ``15``, ``1.2e+06``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    if isinstance(value, int) or (math.isfinite(value) and value.is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:.4g}"


def _pretty_json(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


class Renderer:
    """The UI's templates and assets, loaded once per app."""

    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("modelreg.server.ui", "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
        )
        self.env.filters.update(when=format_when, metric=format_metric, pretty_json=_pretty_json)
        self.env.globals.update(may_write=may_write, notice_for=notice_for)  # the write forms and their notices
        self.assets: dict[str, Asset] = {}
        for entry in resources.files("modelreg.server.ui").joinpath("static").iterdir():
            suffix = "." + entry.name.rpartition(".")[2]
            if entry.is_file() and suffix in _TYPES:
                body = entry.read_bytes()
                self.assets[entry.name] = Asset(body, _TYPES[suffix], hashlib.sha256(body).hexdigest()[:12])

    def html(self, template: str, context: Mapping[str, Any]) -> str:
        """``template`` rendered with ``context``."""
        return self.env.get_template(template).render(context)

    def reply(self, template: str, context: Mapping[str, Any], *, status: int = 200) -> Reply:
        """An HTML reply with the security headers."""
        return Reply(status, self.html(template, context).encode(), HTML, list(SECURITY_HEADERS))
