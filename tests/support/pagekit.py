"""Shared by the page tests: fetch UI pages in-process over httpx's ASGI transport, read their tables back."""

from __future__ import annotations

import html as markup
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx

from modelreg import ModelRegistry
from modelreg.server.auth import Auth
from support.uiclient import UIClient

HTML = {"Accept": "text/html"}


def get_pages(registry: ModelRegistry, *paths: str, auth: Auth | None = None, token: str | None = None,
              headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """GET each path from a fresh app over ``registry``, signed in with ``token`` first when given."""
    client = UIClient(registry, auth)
    try:
        if token is not None:
            done = client.sign_in_with(token)
            assert done.status_code == 303, done.text
        return [client.get(path, headers=headers or {}) for path in paths]
    finally:
        client.close()


def get_page(registry: ModelRegistry, path: str, **options: object) -> httpx.Response:
    """One page (see ``get_pages``)."""
    (response,) = get_pages(registry, path, **options)  # type: ignore[arg-type]
    return response


@dataclass
class Row:
    """One table row as read back: the ``class`` of the ``<tr>`` and the text of each cell."""

    classes: str
    cells: list[str] = field(default_factory=list)


class _Tables(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[Row] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append(Row(dict(attrs).get("class") or ""))
        elif tag in ("td", "th") and self.rows:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].cells.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str) -> list[Row]:
    """Every ``<tr>`` of the page, in order, with its cells' text (whitespace collapsed, entities decoded)."""
    parser = _Tables()
    parser.feed(html)
    return parser.rows


def list_items(html: str, list_class: str) -> list[str]:
    """The text of each ``<li>`` of the first list with class ``list_class``."""
    found = re.search(rf'<(?:ol|ul) class="{re.escape(list_class)}">(.*?)</(?:ol|ul)>', html, re.S)
    if found is None:
        return []
    items = re.findall(r"<li>(.*?)</li>", found.group(1), re.S)
    return [" ".join(markup.unescape(re.sub(r"<[^>]+>", "", item)).split()) for item in items]
