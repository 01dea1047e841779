"""The client's side of alias moves and what governs them: ``set_alias``/``remove_alias``, policies and promotions.

Each method is a plan (``_wire``) both clients run. Arguments are checked here as the
library checks them, before any request; answers come back as the library's frozen
values (``AliasPolicy``, ``PromotionRequest``). The actor of a request or an approval is
the server's name for this client's token.
"""

from __future__ import annotations

from typing import Any

import httpx

from .. import _paths
from .._checks import int_arg, str_arg
from ..errors import PolicyNotFoundError, RegistryError, StoreError
from ..names import validate_alias, validate_name
from ..policies import PROMOTION_STATES, AliasPolicy, PromotionRequest
from ..semver import parse_version
from ._wire import Plan

__all__ = ["GovernanceCalls"]


class GovernanceCalls:
    """Mixin of ``Calls``: it provides ``url``, ``call`` and ``json``."""

    url: str

    def json(self, method: str, path: str, **options: Any) -> Plan[Any]:
        raise NotImplementedError  # Calls'

    def call(self, method: str, path: str, **options: Any) -> Plan[httpx.Response]:
        raise NotImplementedError  # Calls'

    def _promotion(self, data: Any) -> PromotionRequest:
        try:
            return PromotionRequest.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"the server at {self.url} sent a promotion request this client cannot read: "
                             f"{type(exc).__name__}: {exc}") from exc

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Plan[PromotionRequest]:
        data = yield from (self.json("POST", path, json=body) if body is not None else self.json("POST", path))
        return self._promotion(data)

    # -- alias moves ---------------------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: str) -> Plan[None]:
        """``set_alias``: PUT the alias."""
        validate_name(name)
        validate_alias(alias)
        parse_version(str_arg("version", version))
        yield from self.call("PUT", _paths.fill(_paths.ALIAS, name=name, alias=alias), json={"version": version})

    def remove_alias(self, name: str, alias: str) -> Plan[None]:
        """``remove_alias``: DELETE the alias."""
        validate_name(name)
        validate_alias(alias)
        yield from self.call("DELETE", _paths.fill(_paths.ALIAS, name=name, alias=alias))

    # -- policies ------------------------------------------------------------------------------------------

    def set_alias_policy(self, name: str, alias: str, policy: AliasPolicy) -> Plan[None]:
        """``set_alias_policy``: PUT the policy (an admin token's call)."""
        validate_name(name)
        validate_alias(alias)
        if not isinstance(policy, AliasPolicy):
            raise TypeError(f"policy must be an AliasPolicy, not {type(policy).__name__}")
        yield from self.json("PUT", _paths.fill(_paths.POLICY, name=name, alias=alias), json=policy.to_dict())

    def get_alias_policy(self, name: str, alias: str) -> Plan[AliasPolicy | None]:
        """``get_alias_policy``: None for the server's 404 ``policy_not_found``."""
        validate_name(name)
        validate_alias(alias)
        try:
            data = yield from self.json("GET", _paths.fill(_paths.POLICY, name=name, alias=alias))
        except PolicyNotFoundError:
            return None
        try:
            return AliasPolicy.from_dict(data)
        except RegistryError as exc:
            raise StoreError(f"the server at {self.url} sent a policy this client cannot read: {exc}") from exc

    def remove_alias_policy(self, name: str, alias: str) -> Plan[None]:
        """``remove_alias_policy``: DELETE the policy."""
        validate_name(name)
        validate_alias(alias)
        yield from self.call("DELETE", _paths.fill(_paths.POLICY, name=name, alias=alias))

    # -- promotions ----------------------------------------------------------------------------------------

    def request_promotion(self, name: str, alias: str, version: str | None, reason: str = "") -> Plan[PromotionRequest]:
        """``request_promotion``: POST the request."""
        validate_name(name)
        validate_alias(alias)
        if version is not None:
            parse_version(str_arg("version", version))
        body = {"name": name, "alias": alias, "version": version, "reason": str_arg("reason", reason)}
        return (yield from self._post(_paths.PROMOTIONS, body))

    def approve_promotion(self, number: int) -> Plan[PromotionRequest]:
        """``approve_promotion``."""
        int_arg("promotion id", number, minimum=1)
        return (yield from self._post(_paths.fill(_paths.PROMOTION_APPROVE, id=str(number))))

    def reject_promotion(self, number: int, reason: str = "") -> Plan[PromotionRequest]:
        """``reject_promotion``."""
        int_arg("promotion id", number, minimum=1)
        body = {"reason": str_arg("reason", reason)}
        return (yield from self._post(_paths.fill(_paths.PROMOTION_REJECT, id=str(number)), body))

    def get_promotion(self, number: int) -> Plan[PromotionRequest]:
        """``get_promotion``."""
        int_arg("promotion id", number, minimum=1)
        return self._promotion((yield from self.json("GET", _paths.fill(_paths.PROMOTION, id=str(number)))))

    def list_promotions(self, name: str | None = None, state: str | None = None) -> Plan[list[PromotionRequest]]:
        """``list_promotions``."""
        params: dict[str, str] = {}
        if name is not None:
            params["name"] = validate_name(name)
        if state is not None:
            if state not in PROMOTION_STATES:
                raise ValueError(f"state must be one of {', '.join(PROMOTION_STATES)}, not {state!r}")
            params["state"] = state
        data = yield from self.json("GET", _paths.PROMOTIONS, params=params)
        found = data.get("promotions") if isinstance(data, dict) else None
        if not isinstance(found, list):
            raise StoreError(f"the server at {self.url} sent an answer without list 'promotions'")
        return [self._promotion(item) for item in found]
