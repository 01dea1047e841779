"""The success notices a page shows after a write: a ``notice=`` code in the URL mapped to fixed text.

Only these texts can appear, so a link someone crafts cannot put words of theirs on the page.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

__all__ = ["NOTICES", "notice_for", "with_notice"]

NOTICES: dict[str, str] = {
    "alias-set": "The alias was set.",
    "alias-moved": "The alias was moved.",
    "alias-removed": "The alias was removed.",
    "version-annotated": "The version's annotations were saved.",
    "model-annotated": "The model's annotations were saved.",
    "unregistered": "The version was unregistered.",
    "promotion-requested": "The promotion was requested; it waits for its approvals.",
    "promotion-done": "The promotion was carried out: the alias moved.",
    "promotion-approved": "Your approval was recorded; the request waits for more.",
    "promotion-rejected": "The promotion request was rejected; the alias stays as it was.",
}


def notice_for(here: str) -> str:
    """The notice text for the ``notice=`` code in the path-with-query ``here`` ('' when none or unknown)."""
    _, _, query = here.partition("?")
    try:
        pairs = parse_qsl(query, max_num_fields=64) if query else []
    except ValueError:  # too many fields: the page is already the error page that says so
        return ""
    for key, value in pairs:
        if key == "notice":
            return NOTICES.get(value, "")
    return ""


def with_notice(target: str, code: str) -> str:
    """``target`` (a path with an optional query) with ``notice=code`` in place of any notice it had."""
    path, _, query = target.partition("?")
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True, max_num_fields=64) if k != "notice"]
    return path + "?" + urlencode([*pairs, ("notice", code)])
