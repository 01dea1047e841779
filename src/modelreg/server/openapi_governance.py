"""The OpenAPI description of the policy and promotion routes (``server/governance.py``), merged by ``openapi.py``.

Kept apart so ``openapi.py`` stays under the module size limit; it passes in its own
builders (``Kit``), so this module imports nothing from it and the two share one shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _paths
from ..policies import MAX_APPROVALS, MAX_REASON_CHARS, MAX_REQUIREMENTS, PROMOTION_STATES, PromotionRequest

__all__ = ["Kit", "operations", "schemas"]

_REASON = {"type": "string", "maxLength": MAX_REASON_CHARS}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_STR = {"type": ["string", "null"]}


@dataclass(frozen=True)
class Kit:
    """``openapi.py``'s builders and shared parameters, so both modules describe routes alike."""

    op: Callable[..., dict[str, Any]]
    ok: Callable[..., dict[str, Any]]
    param: Callable[..., dict[str, Any]]
    ref: Callable[[str], dict[str, str]]
    name: dict[str, Any]  # the {name} path parameter
    alias: dict[str, Any]  # the {alias} path parameter
    api_errors: tuple[str, ...]


def schemas(kit: Kit) -> dict[str, Any]:
    """The bodies the governance routes take and answer."""
    texts = {"type": "array", "items": {"type": "string"}, "maxItems": MAX_REQUIREMENTS}
    request_props = {
        "id": {"type": "integer", "minimum": 1}, "name": {"type": "string"}, "alias": {"type": "string"},
        "version": {**_NULLABLE_STR, "description": "null: a request to remove the alias."},
        "state": {"enum": list(PROMOTION_STATES)}, "requested_by": _NULLABLE_STR, "requested_at": _TIME,
        "reason": {"type": "string"}, "approvals": {"type": "array", "items": {"type": "string"}},
        "decided_by": _NULLABLE_STR, "decided_at": {"type": ["string", "null"], "format": "date-time"},
        "decision_reason": {"type": "string"},
        "target_registered_at": {"type": ["string", "null"], "format": "date-time",
                                 "description": "When the target was registered: the approvals are for that one."},
    }
    if set(request_props) != {field.name for field in dataclasses.fields(PromotionRequest)}:
        raise RuntimeError("the Promotion schema must list exactly PromotionRequest's fields")
    return {
        "Policy": {"type": "object", "additionalProperties": False, "properties": {
            "require": {**texts, "description": "where expressions the new target must satisfy."},
            "must_not_regress": {**texts, "description": "metrics.KEY (higher is better) or metrics.KEY desc."},
            "approvals": {"type": "integer", "minimum": 0, "maximum": MAX_APPROVALS,
                          "description": "Distinct actors other than the requester who must approve."}}},
        "PromotionCreate": {"type": "object", "additionalProperties": False, "required": ["name", "alias"],
                            "properties": {"name": {"type": "string"}, "alias": {"type": "string"},
                                           "version": {**_NULLABLE_STR, "description": "null: remove the alias."},
                                           "reason": _REASON}},
        "Rejection": {"type": "object", "additionalProperties": False, "properties": {"reason": _REASON}},
        "Promotion": {"type": "object", "additionalProperties": False, "required": list(request_props),
                      "properties": request_props},
        "PromotionList": {"type": "object", "required": ["promotions"], "properties": {
            "promotions": {"type": "array", "items": kit.ref("Promotion")}}},
    }


def operations(kit: Kit) -> dict[str, dict[str, Any]]:
    """What each governance route's methods do, keyed by path template."""
    _op, _ok, _param, _API_ERRORS, _P_NAME, _P_ALIAS = kit.op, kit.ok, kit.param, kit.api_errors, kit.name, kit.alias
    write_errors = (*_API_ERRORS, "404", "409", "503")
    p_id = _param("id", "path", {"type": "string", "pattern": "^[1-9][0-9]{0,17}$"}, "A promotion request's id.")
    promotion = {"200": _ok("The request as it stands now", "Promotion")}
    return {
        _paths.POLICY: {
            "get": _op("An alias's policy (404 policy_not_found when it has none)", [_P_NAME, _P_ALIAS],
                       {"200": _ok("The policy", "Policy")}, (*_API_ERRORS, "404")),
            "put": _op("Set (or replace) an alias's policy (admin role)", [_P_NAME, _P_ALIAS],
                       {"200": _ok("The policy now in force", "Policy")}, (*write_errors, "415"), body="Policy"),
            "delete": _op("Remove an alias's policy (admin role)", [_P_NAME, _P_ALIAS], {"204": _ok("Removed")},
                          write_errors),
        },
        _paths.PROMOTIONS: {
            "get": _op("Promotion requests by id, of one model and in one state when given",
                       [_param("name", "query", {"type": "string"}, "Only this model's.", required=False),
                        _param("state", "query", {"enum": list(PROMOTION_STATES)}, "Only those in this state.",
                               required=False)],
                       {"200": _ok("The requests", "PromotionList")}, _API_ERRORS),
            "post": _op("Request a promotion, as the token's name (write role); with no approvals needed the alias "
                        "moves at once", [], {"201": _ok("The request (Location: its URL)", "Promotion")},
                        (*write_errors, "415"), body="PromotionCreate"),
        },
        _paths.PROMOTION: {"get": _op("One promotion request", [p_id], promotion, (*_API_ERRORS, "404"))},
        _paths.PROMOTION_APPROVE: {"post": _op(
            "Approve a pending request as the token's name (write role); the last approval moves the alias in the "
            "same transaction", [p_id], promotion, write_errors)},
        _paths.PROMOTION_REJECT: {"post": _op("Reject a pending request (write role)", [p_id], promotion,
                                              (*write_errors, "415"), body="Rejection")},
    }
