"""The stores' rows for governance: alias policies and promotion requests, as both stores write and read them.

A policy row holds the policy's ``to_dict()`` as JSON (what its ``policy_set`` event
carries); a promotion row the whole ``PromotionRequest.to_dict()``, with its name,
alias and state in columns beside it for SQL. Both stores compute a promotion row
with the same transition the snapshot applies, so table and snapshot cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .._state import RegistryState
from .._transitions import Change, apply
from ..errors import StoreError
from ..events import GOVERNANCE_KINDS
from ..policies import AliasPolicy, PromotionRequest

__all__ = [
    "POLICY_ROWS",
    "PROMOTION_KINDS",
    "PROMOTION_ROWS",
    "PolicyRow",
    "PromotionRow",
    "decode_policies",
    "decode_promotions",
    "promotion_row",
]

PROMOTION_KINDS: frozenset[str] = frozenset(kind for kind in GOVERNANCE_KINDS if kind.startswith("promotion_"))

# (model name, alias, policy JSON) and (request JSON,): what opening reads, the same SQL in both stores
# (CAST: PostgreSQL's json columns as their exact text, not parsed by the driver).
POLICY_ROWS = "SELECT name, alias, CAST(policy AS text) FROM alias_policies"
PROMOTION_ROWS = "SELECT CAST(request AS text) FROM promotions ORDER BY id"
PolicyRow = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class PromotionRow:
    """The promotions row a promotion event leaves: its id, name, alias, state and request JSON."""

    id: int
    name: str
    alias: str
    state: str
    request: str


def promotion_row(state: RegistryState, change: Change) -> PromotionRow:
    """The row for the request that ``change`` (a promotion change stamped with its event's time and actor,
    planned on ``state``) makes or updates: the transition's own result, encoded."""
    assert change.kind in PROMOTION_KINDS and change.detail is not None
    request = apply(state, change, state.revision).promotions[int(change.detail["id"])]
    text = json.dumps(request.to_dict(), separators=(",", ":"), allow_nan=False)
    return PromotionRow(request.id, request.name, request.alias, request.state, text)


def _object(text: object, row: str) -> Mapping[str, Any]:
    try:
        data = json.loads(text)  # type: ignore[arg-type]
        if not isinstance(data, dict):
            raise TypeError(f"it is a {type(data).__name__}, not an object")
    except (ValueError, TypeError, RecursionError) as exc:
        raise StoreError(f"{row} is unreadable ({exc}); the row was changed outside modelreg or is damaged") from exc
    return data


def decode_policies(rows: Iterable[PolicyRow], where: str) -> dict[tuple[str, str], AliasPolicy]:
    """The policies by (model name, alias); StoreError naming a row that is not a policy we stored."""
    policies = {}
    for name, alias, text in rows:
        row = f"the policy of {name} {alias} in {where}"
        try:
            policies[(name, alias)] = AliasPolicy.from_dict(_object(text, row))
        except ValueError as exc:  # InvalidPolicyError: valid when stored, so edited since
            raise StoreError(f"{row} is not a valid policy ({exc}); the row was changed outside modelreg") from exc
    return policies


def decode_promotions(rows: Iterable[tuple[str]], where: str) -> dict[int, PromotionRequest]:
    """The promotion requests by id; StoreError naming a row that is not a request we stored."""
    promotions = {}
    for (text,) in rows:
        data = _object(text, f"a promotion request in {where}")
        try:
            request = PromotionRequest.from_dict(data)
        except (LookupError, TypeError, ValueError) as exc:
            raise StoreError(
                f"promotion request {data.get('id')!r} in {where} is unreadable ({type(exc).__name__}: {exc}); "
                "the row was changed outside modelreg"
            ) from exc
        promotions[request.id] = request
    return promotions
