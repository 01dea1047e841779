"""What governs an alias: its policy (metric gates, no regressions, approvals) and the promotion requests under it.

Both are frozen values that compare, hash and pickle like plain data and round-trip
through ``to_dict``/``from_dict`` (what the stores keep and the HTTP API sends). A policy
is checked as it is made: every ``require`` item must be a valid ``where`` expression
(docs/search.md) and every ``must_not_regress`` item a metric, so a policy that can
never be evaluated is refused before it is stored (InvalidPolicyError).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from ._query import order_parser, parse_field, parse_where
from .errors import InvalidPolicyError, QueryError

__all__ = [
    "MAX_APPROVALS",
    "MAX_REASON_CHARS",
    "MAX_REQUIREMENTS",
    "PROMOTION_STATES",
    "AliasPolicy",
    "PromotionRequest",
    "PromotionState",
    "Regression",
]

MAX_REQUIREMENTS: Final = 32
"""Most ``require`` (and, separately, ``must_not_regress``) items one policy may hold."""
MAX_APPROVALS: Final = 20
"""Most approvals a policy may ask for."""
MAX_REASON_CHARS: Final = 2000
"""Longest reason a promotion request or rejection may give."""

PromotionState = Literal["pending", "approved", "rejected"]
PROMOTION_STATES: Final[tuple[str, ...]] = ("pending", "approved", "rejected")


@dataclass(frozen=True, slots=True)
class Regression:
    """One ``must_not_regress`` item: a metric and whether lower is better (``"metrics.latency_ms desc"``)."""

    text: str  # as written in the policy
    metric: str
    lower_is_better: bool


def _regression(text: str, i: int) -> Regression:
    """The parsed ``must_not_regress[i]``; InvalidPolicyError unless it is ``metrics.KEY [asc|desc]``."""
    where = f"must_not_regress[{i}] {text[:100]!r}"
    try:
        parser = order_parser(text)
        found = parse_field(parser)
        token = parser.peek
        lower = False
        if token.kind == "ident" and token.text.lower() in ("asc", "desc"):
            parser.take()
            lower = token.text.lower() == "desc"
        if parser.peek.kind != "end":
            parser.expected("'asc', 'desc' or the end of the item")
    except QueryError as exc:
        raise InvalidPolicyError(f"{where} is not a metric: {exc.message}") from None
    if found.name != "metrics" or len(found.key) != 1:
        raise InvalidPolicyError(
            f"{where} names {found.text}; must_not_regress compares metrics: write 'metrics.KEY' "
            "(higher is better) or 'metrics.KEY desc' (lower is better)"
        )
    return Regression(text, found.key[0], lower)


def _texts(what: str, items: object) -> tuple[str, ...]:
    if isinstance(items, str) or not isinstance(items, Iterable):
        raise InvalidPolicyError(f"{what} must be a list of strings, not {type(items).__name__}")
    texts = tuple(items)
    for i, item in enumerate(texts):
        if not isinstance(item, str):
            raise InvalidPolicyError(f"{what}[{i}] must be a string, not {type(item).__name__}")
    if len(texts) > MAX_REQUIREMENTS:
        raise InvalidPolicyError(f"{what} has {len(texts)} items; a policy holds at most {MAX_REQUIREMENTS}")
    return texts


@dataclass(frozen=True, slots=True)
class AliasPolicy:
    """The rules a move of one alias must pass (docs/governance.md).

    ``require``: ``where`` expressions the new target must satisfy. ``must_not_regress``:
    metrics on which it may not be worse than the current target (higher is better;
    ``"metrics.latency_ms desc"``: lower is). ``approvals``: how many distinct actors other
    than the requester must approve; with 0 a ``set_alias`` that passes the checks moves it.
    """

    require: tuple[str, ...] = ()
    must_not_regress: tuple[str, ...] = ()
    approvals: int = 0
    regressions: tuple[Regression, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        require = _texts("require", self.require)
        regress = _texts("must_not_regress", self.must_not_regress)
        for i, text in enumerate(require):
            try:
                if parse_where(text) is None:
                    raise QueryError("it is empty, so it would let every version through")
            except QueryError as exc:
                raise InvalidPolicyError(
                    f"require[{i}] {text[:100]!r} is not a valid where expression: {exc.message}"
                ) from None
        approvals = self.approvals
        if isinstance(approvals, bool) or not isinstance(approvals, int) or not 0 <= approvals <= MAX_APPROVALS:
            raise InvalidPolicyError(f"approvals must be an int from 0 to {MAX_APPROVALS}, not {approvals!r}")
        object.__setattr__(self, "require", require)
        object.__setattr__(self, "must_not_regress", regress)
        object.__setattr__(self, "regressions", tuple(_regression(text, i) for i, text in enumerate(regress)))

    def __reduce__(self) -> tuple[object, ...]:
        return (AliasPolicy, (self.require, self.must_not_regress, self.approvals))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: ``require``, ``must_not_regress`` (lists) and ``approvals``."""
        return {
            "require": list(self.require),
            "must_not_regress": list(self.must_not_regress),
            "approvals": self.approvals,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AliasPolicy:
        """Inverse of ``to_dict``; InvalidPolicyError naming an unknown or wrongly typed field."""
        if not isinstance(data, Mapping):
            raise InvalidPolicyError(f"a policy must be an object, not {type(data).__name__}")
        unknown = sorted(set(data) - {"require", "must_not_regress", "approvals"})
        if unknown:
            raise InvalidPolicyError(
                f"unknown policy field(s) {', '.join(map(repr, unknown))}; the fields are require, "
                "must_not_regress and approvals"
            )
        return cls(data.get("require", ()), data.get("must_not_regress", ()), data.get("approvals", 0))


@dataclass(frozen=True, slots=True)
class PromotionRequest:
    """A request to point ``alias`` at ``version`` (None: to remove the alias), and what became of it.

    ``id`` is the registry's sequence number for requests (1, 2, ...). ``approvals`` are the
    actors who approved, in order; ``decided_by``/``decided_at`` say who approved last (the
    move) or who rejected, and ``decision_reason`` why a request was rejected.
    ``target_registered_at`` is when the target was registered: the approvals are for that
    registration, so a version unregistered and registered again meanwhile cannot take them.
    """

    id: int
    name: str
    alias: str
    version: str | None
    state: PromotionState
    requested_by: str | None
    requested_at: datetime
    reason: str = ""
    approvals: tuple[str, ...] = ()
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_reason: str = ""
    target_registered_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (times as ISO 8601)."""
        return {
            "id": self.id,
            "name": self.name,
            "alias": self.alias,
            "version": self.version,
            "state": self.state,
            "requested_by": self.requested_by,
            "requested_at": self.requested_at.isoformat(),
            "reason": self.reason,
            "approvals": list(self.approvals),
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
            "decision_reason": self.decision_reason,
            "target_registered_at": _iso(self.target_registered_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PromotionRequest:
        """Inverse of ``to_dict``."""
        return cls(
            id=int(data["id"]),
            name=data["name"],
            alias=data["alias"],
            version=data.get("version"),
            state=data["state"],
            requested_by=data.get("requested_by"),
            requested_at=datetime.fromisoformat(data["requested_at"]),
            reason=data.get("reason", ""),
            approvals=tuple(data.get("approvals", ())),
            decided_by=data.get("decided_by"),
            decided_at=_time(data.get("decided_at")),
            decision_reason=data.get("decision_reason", ""),
            target_registered_at=_time(data.get("target_registered_at")),
        )


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
