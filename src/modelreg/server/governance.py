"""Handlers for alias policies and promotion requests: each turns a request into one registry call.

The actor of a request, an approval or a rejection is always the caller's token name
(``Call.write`` runs the registry call as it), never a field of the body. A promotion of a
model outside a scoped token's patterns answers 404 exactly as a request that does not
exist (docs/server.md, "Scoped tokens").
"""

from __future__ import annotations

import functools
from typing import Any

from .. import _paths
from ..errors import PolicyNotFoundError, PromotionNotFoundError
from ..policies import PROMOTION_STATES, AliasPolicy, PromotionRequest
from .call import Call, Reply, dumps
from .inputs import json_object, json_type
from .problems import HTTPProblem

__all__ = [
    "PROMOTION_QUERY",
    "approve_promotion",
    "get_policy",
    "get_promotion",
    "list_promotions",
    "put_policy",
    "reject_promotion",
    "remove_policy",
    "request_promotion",
]

PROMOTION_QUERY = frozenset({"name", "state"})
"""The query parameters of ``GET /api/v1/promotions``."""
_POLICY_FIELDS = {"require": list, "must_not_regress": list, "approvals": int}
_REQUEST_FIELDS = ("name", "alias", "version", "reason")


def _request_json(request: PromotionRequest) -> bytes:
    return dumps(request.to_dict())


def _unknown(data: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise HTTPProblem("invalid_body", f"unknown field(s) {', '.join(map(repr, unknown))}; allowed: "
                          f"{', '.join(map(repr, allowed))}")


def _field(data: dict[str, Any], key: str, kind: type, expected: str, *, nullable: bool = False) -> Any:
    """``data[key]`` of JSON type ``kind`` (None too when ``nullable``), or a 422 naming the field."""
    value = data.get(key)
    if (value is None and nullable) or (type(value) is kind):
        return value
    raise HTTPProblem("invalid_body", f"field {key!r} must be {expected}, not {json_type(value)}")


# -- policies ------------------------------------------------------------------------------------------------


def get_policy(call: Call, name: str, alias: str) -> Reply:
    """GET /api/v1/models/{name}/aliases/{alias}/policy (404 policy_not_found when the alias has none)."""
    policy = call.registry.get_alias_policy(name, alias)
    if policy is None:
        raise PolicyNotFoundError(f"alias {alias!r} of {name} has no policy", name=name, alias=alias)
    return Reply(200, dumps(policy.to_dict()))


async def put_policy(call: Call, name: str, alias: str) -> Reply:
    """PUT /api/v1/models/{name}/aliases/{alias}/policy with {"require", "must_not_regress", "approvals"}."""
    data = await json_object(call)
    _unknown(data, tuple(_POLICY_FIELDS))
    for key, kind in _POLICY_FIELDS.items():
        if key in data:
            _field(data, key, kind, "an array of strings" if kind is list else "a whole number")
    policy = AliasPolicy.from_dict(data)  # InvalidPolicyError (422) names the item that cannot be evaluated
    await call.write(call.registry.set_alias_policy, name, alias, policy)
    return Reply(200, dumps(policy.to_dict()))


async def remove_policy(call: Call, name: str, alias: str) -> Reply:
    """DELETE /api/v1/models/{name}/aliases/{alias}/policy"""
    await call.write(call.registry.remove_alias_policy, name, alias)
    return Reply(204)


# -- promotions ----------------------------------------------------------------------------------------------


def _number(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 18 and int(text) >= 1):
        raise HTTPProblem("invalid_parameter", f"a promotion id is a whole number from 1, not {text[:40]!r}")
    return int(text)


def _visible_request(call: Call, number: int) -> PromotionRequest:
    """Request ``number`` from the snapshot, or 404 when there is none or its model is outside the caller's scope."""
    try:
        found = call.registry.get_promotion(number)
    except PromotionNotFoundError:
        found = None
    if found is None or not call.visible(found.name):
        raise PromotionNotFoundError(f"there is no promotion request {number}")
    return found


async def request_promotion(call: Call) -> Reply:
    """POST /api/v1/promotions with {"name", "alias", "version" (null: remove the alias), "reason"}"""
    data = await json_object(call)
    _unknown(data, _REQUEST_FIELDS)
    name = _field(data, "name", str, "a model name (a string)")
    alias = _field(data, "alias", str, "an alias name (a string)")
    if "version" not in data:  # never read a forgotten version as null: that would remove the alias
        raise HTTPProblem("invalid_body", "field 'version' is required: a version, or null to remove the alias")
    version = _field(data, "version", str, "a version (a string), or null to remove the alias", nullable=True)
    reason = _field(data, "reason", str, "a string", nullable=True) or ""
    call.enter(name)  # a model outside the caller's scope: served as one that does not exist
    request = functools.partial(call.registry.request_promotion, name, alias, version, reason=reason)
    made: PromotionRequest = await call.write(request)
    location = call.scope.get("root_path", "") + _paths.fill(_paths.PROMOTION, id=str(made.id))
    return Reply(201, _request_json(made), headers=[(b"location", location.encode())])


def list_promotions(call: Call) -> Reply:
    """GET /api/v1/promotions[?name=MODEL&state=pending|approved|rejected], by id."""
    name = call.query.get("name")
    state = call.query.get("state")
    if state is not None and state not in PROMOTION_STATES:
        raise HTTPProblem("invalid_parameter", f"query parameter 'state' must be one of "
                          f"{', '.join(PROMOTION_STATES)}, not {state[:40]!r}")
    found = call.registry.list_promotions(name, state=state)
    shown = [r.to_dict() for r in found if call.models is None or call.visible(r.name)]
    return Reply(200, dumps({"promotions": shown}))


def get_promotion(call: Call, number: str) -> Reply:
    """GET /api/v1/promotions/{id}"""
    return Reply(200, _request_json(_visible_request(call, _number(number))))


async def approve_promotion(call: Call, number: str) -> Reply:
    """POST /api/v1/promotions/{id}/approve: approve as the caller; the last approval moves the alias."""
    wanted = _number(number)
    if call.models is not None:
        _visible_request(call, wanted)
    done: PromotionRequest = await call.write(call.registry.approve_promotion, wanted)
    return Reply(200, _request_json(done))


async def reject_promotion(call: Call, number: str) -> Reply:
    """POST /api/v1/promotions/{id}/reject with {"reason": "..."} (optional)."""
    wanted = _number(number)
    data = await json_object(call) if _has_body(call) else {}
    _unknown(data, ("reason",))
    reason = _field(data, "reason", str, "a string", nullable=True) or ""
    if call.models is not None:
        _visible_request(call, wanted)
    done: PromotionRequest = await call.write(functools.partial(call.registry.reject_promotion, wanted, reason=reason))
    return Reply(200, _request_json(done))


def _has_body(call: Call) -> bool:
    """Whether the request says it carries a body (a rejection may be sent without one)."""
    length = call.header(b"content-length")
    return (length is not None and length != "0") or call.header(b"transfer-encoding") is not None
