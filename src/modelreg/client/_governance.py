"""The client's side of alias moves and what governs them: ``set_alias``/``remove_alias``, policies and promotions.

Arguments are checked here as the library checks them, before any request; answers come
back as the library's frozen values (``AliasPolicy``, ``PromotionRequest``). The actor of
a request or an approval is the server's name for this client's token.
"""

from __future__ import annotations

from typing import Any

from .. import _paths
from .._checks import int_arg, str_arg
from ..errors import PolicyNotFoundError, RegistryError, StoreError
from ..names import validate_alias, validate_name
from ..policies import PROMOTION_STATES, AliasPolicy, PromotionRequest
from ..semver import parse_version

__all__ = ["GovernanceMethods"]


class GovernanceMethods:
    """Mixin of ``RegistryClient``: it provides ``url``, ``_call`` and ``_json``."""

    url: str

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError  # RegistryClient's

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        raise NotImplementedError  # RegistryClient's

    def _promotion(self, data: Any) -> PromotionRequest:
        try:
            return PromotionRequest.from_dict(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise StoreError(f"the server at {self.url} sent a promotion request this client cannot read: "
                             f"{type(exc).__name__}: {exc}") from exc

    def _post(self, path: str, body: dict[str, Any] | None = None) -> PromotionRequest:
        return self._promotion(self._json("POST", path, json=body) if body is not None else self._json("POST", path))

    # -- alias moves ---------------------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: str) -> None:
        """Point ``alias`` at a version, moving it if it exists."""
        validate_name(name)
        validate_alias(alias)
        parse_version(str_arg("version", version))
        self._call("PUT", _paths.fill(_paths.ALIAS, name=name, alias=alias), json={"version": version})

    def remove_alias(self, name: str, alias: str) -> None:
        """Delete an alias (AliasNotFoundError if it does not exist)."""
        validate_name(name)
        validate_alias(alias)
        self._call("DELETE", _paths.fill(_paths.ALIAS, name=name, alias=alias))

    # -- policies ------------------------------------------------------------------------------------------

    def set_alias_policy(self, name: str, alias: str, policy: AliasPolicy) -> None:
        """Govern moves of ``alias`` by ``policy`` from now on (an admin token's call)."""
        validate_name(name)
        validate_alias(alias)
        if not isinstance(policy, AliasPolicy):
            raise TypeError(f"policy must be an AliasPolicy, not {type(policy).__name__}")
        self._json("PUT", _paths.fill(_paths.POLICY, name=name, alias=alias), json=policy.to_dict())

    def get_alias_policy(self, name: str, alias: str) -> AliasPolicy | None:
        """The policy governing ``alias``, or None."""
        validate_name(name)
        validate_alias(alias)
        try:
            data = self._json("GET", _paths.fill(_paths.POLICY, name=name, alias=alias))
        except PolicyNotFoundError:
            return None
        try:
            return AliasPolicy.from_dict(data)
        except RegistryError as exc:
            raise StoreError(f"the server at {self.url} sent a policy this client cannot read: {exc}") from exc

    def remove_alias_policy(self, name: str, alias: str) -> None:
        """Stop governing ``alias`` (PolicyNotFoundError when it has no policy)."""
        validate_name(name)
        validate_alias(alias)
        self._call("DELETE", _paths.fill(_paths.POLICY, name=name, alias=alias))

    # -- promotions ----------------------------------------------------------------------------------------

    def request_promotion(self, name: str, alias: str, version: str | None, *, reason: str = "") -> PromotionRequest:
        """Ask to point ``alias`` at ``version`` (None: remove it), as this token's name."""
        validate_name(name)
        validate_alias(alias)
        if version is not None:
            parse_version(str_arg("version", version))
        body = {"name": name, "alias": alias, "version": version, "reason": str_arg("reason", reason)}
        return self._post(_paths.PROMOTIONS, body)

    def approve_promotion(self, number: int) -> PromotionRequest:
        """Approve request ``number`` as this token's name; the last approval moves the alias."""
        int_arg("promotion id", number, minimum=1)
        return self._post(_paths.fill(_paths.PROMOTION_APPROVE, id=str(number)))

    def reject_promotion(self, number: int, *, reason: str = "") -> PromotionRequest:
        """Reject pending request ``number``; the alias stays as it is."""
        int_arg("promotion id", number, minimum=1)
        return self._post(_paths.fill(_paths.PROMOTION_REJECT, id=str(number)), {"reason": str_arg("reason", reason)})

    def get_promotion(self, number: int) -> PromotionRequest:
        """Request ``number`` as it stands (PromotionNotFoundError if there is none)."""
        int_arg("promotion id", number, minimum=1)
        return self._promotion(self._json("GET", _paths.fill(_paths.PROMOTION, id=str(number))))

    def list_promotions(self, name: str | None = None, *, state: str | None = None) -> list[PromotionRequest]:
        """Promotion requests by id, of one model and in one state (pending, approved, rejected) when given."""
        params: dict[str, str] = {}
        if name is not None:
            params["name"] = validate_name(name)
        if state is not None:
            if state not in PROMOTION_STATES:
                raise ValueError(f"state must be one of {', '.join(PROMOTION_STATES)}, not {state!r}")
            params["state"] = state
        data = self._json("GET", _paths.PROMOTIONS, params=params)
        found = data.get("promotions") if isinstance(data, dict) else None
        if not isinstance(found, list):
            raise StoreError(f"the server at {self.url} sent an answer without list 'promotions'")
        return [self._promotion(item) for item in found]
