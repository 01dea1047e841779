"""The one parser of dates given as text (JSON bodies, metadata files, CLI options): RFC 3339, strictly.

``datetime.fromisoformat`` takes far more than RFC 3339 (on 3.11 it reads
``2026-01-05T1234561234567`` as 12:34:56.123456, dropping digits, and takes a
date and time without an offset as local time), so every text date goes through
``parse_timestamp`` instead. Accepted: ``2026-01-05T12:34:56Z``, ``…+02:00``, an
optional fraction of 1-6 digits, ``t``/``z`` in lower case, a space for the ``T``
(RFC 3339 section 5.6 permits it), or a bare date ``2026-01-05`` meaning midnight UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["TIMESTAMP_EXAMPLE", "parse_timestamp"]

TIMESTAMP_EXAMPLE = "'2026-01-05T12:34:56Z', '2026-01-05T12:34:56.5+02:00' or '2026-01-05' (midnight UTC)"
# [0-9], never \d: \d also matches other scripts' digits, which RFC 3339 does not allow.
_TIMESTAMP = re.compile(
    r"""
    [0-9]{4} - [0-9]{2} - [0-9]{2}
    (?:
        [Tt ]
        [0-9]{2} : [0-9]{2} : (?:[0-5][0-9])
        (?: \. [0-9]{1,6} )?
        (?: [Zz] | [+-] [0-9]{2} : [0-9]{2} )
    )?
    """,
    re.VERBOSE,
)
# Close misses of _TIMESTAMP, matched only to say what is wrong with them.
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_NEAR = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?P<seconds>:[0-9]{2})?(?P<fraction>\.[0-9]+)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)
_LONGEST = 64  # the longest valid form, "2026-01-05T12:34:56.123456+02:00", has 32 characters


def _refused(text: str, why: str) -> ValueError:
    return ValueError(f"{text[:80]!r} {why}; expected an RFC 3339 date and time such as {TIMESTAMP_EXAMPLE}")


def parse_timestamp(text: str) -> datetime:
    """An aware datetime from RFC 3339 text; ValueError naming what is wrong and showing valid forms."""
    if _TIMESTAMP.fullmatch(text) is None:
        raise _refused(text, _why_not(text))
    try:
        # Safe now: the text is RFC 3339, a subset of what fromisoformat reads, and it reads it fast.
        parsed = datetime.fromisoformat(text.upper() if text[-1] == "z" or "t" in text else text)
    except ValueError as exc:  # month 13, February 30, hour 24, offset +24:00, ...
        raise _refused(text, f"is not a real date and time ({exc})") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)  # a bare date: midnight UTC


def _why_not(text: str) -> str:
    """The most helpful reason a text outside the grammar was refused."""
    if len(text) > _LONGEST:
        return f"is {len(text)} characters long, more than any date and time"
    near = _NEAR.fullmatch(text)
    if near is None:
        if _DATE.match(text) and len(text) > 10 and text[10] not in "Tt ":
            return f"separates the date from the time with {text[10]!r}; use 'T'"
        return "is not in RFC 3339 form"
    if near["seconds"] is None:
        return "has no seconds"
    if near["seconds"] == ":60":
        return "is a leap second, which Python's datetime cannot hold"
    if near["fraction"] is not None and len(near["fraction"]) > 7:
        return "has more than 6 fractional digits (it would be cut to the microsecond)"
    return "has no UTC offset, so it would be ambiguous: add 'Z' for UTC or an offset such as '+02:00'"
