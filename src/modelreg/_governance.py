"""Alias policies and promotions: the checks a governed alias move must pass, and the writes that make one.

Every rule is decided inside a write's plan, on the freshest state, so it holds across
processes and replicas: two final approvals racing each other are serialized by the
store, and the second finds the request approved already. docs/governance.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from ._checks import int_arg, str_arg
from ._plans import Committed, Plan, current_actor
from ._query import And, Field, Node, Not, Or, parse_where
from ._search import MISSING, Candidate, compile_where, field_getter
from ._state import RegistryState
from ._transitions import Change
from .errors import MetadataError, PolicyError, PolicyNotFoundError, PromotionNotFoundError
from .names import validate_alias, validate_name
from .policies import MAX_REASON_CHARS, PROMOTION_STATES, AliasPolicy, PromotionRequest
from .semver import parse_version

__all__ = ["Governed", "check_direct_removal", "direct_move", "policy_failures"]


# -- the checks ------------------------------------------------------------------------------------------------


def _fields(node: Node) -> Iterator[Field]:
    if isinstance(node, And | Or):
        for part in node.parts:
            yield from _fields(part)
    elif isinstance(node, Not):
        yield from _fields(node.operand)
    else:
        yield node.field


def _shown(value: Any) -> str:
    if value is MISSING:
        return "missing"
    if isinstance(value, tuple):  # aliases
        return "[" + ", ".join(value) + "]" if value else "none"
    return repr(value) if isinstance(value, str) else str(value)


def _actual(text: str, candidate: Candidate) -> str:
    """What the fields ``text`` reads hold for ``candidate``: ``metrics.top1 is 0.71``."""
    node = parse_where(text)
    assert node is not None  # AliasPolicy refuses an empty requirement
    seen: dict[str, str] = {}
    for found in _fields(node):
        seen.setdefault(found.text, f"{found.text} is {_shown(field_getter(found)(candidate))}")
    return ", ".join(seen.values())


def policy_failures(state: RegistryState, name: str, alias: str, version: str, policy: AliasPolicy) -> list[str]:
    """What keeps ``version`` (canonical, stored) from becoming ``alias``'s target under ``policy``: one line each."""
    model = state.model(name)
    record = model.record(version)
    assert record is not None
    candidate: Candidate = (record, parse_version(version))
    failures = [
        f"requires {text} ({_actual(text, candidate)})"
        for text in policy.require
        if not compile_where(text)([candidate])
    ]
    current = model.aliases.get(alias)
    if current is not None and current != version:
        was_meta = model.metadata(current)
        assert was_meta is not None
        was = was_meta.performance_metrics
        new = record.metadata.performance_metrics
        for regression in policy.regressions:
            old, now = was.get(regression.metric), new.get(regression.metric)
            if old is None:
                continue  # the current target has nothing to compare with
            if now is None:
                failures.append(
                    f"must not regress on {regression.text}: {version} has no metrics.{regression.metric}, "
                    f"{current} (the current {alias}) has {old}"
                )
            elif now > old if regression.lower_is_better else now < old:
                failures.append(
                    f"must not regress on {regression.text}: {version} has {now}, worse than {old} of "
                    f"{current} (the current {alias})"
                )
    return failures


def _refuse_failures(state: RegistryState, name: str, alias: str, version: str, policy: AliasPolicy, when: str) -> None:
    failures = policy_failures(state, name, alias, version, policy)
    if failures:
        raise PolicyError(
            f"{name} {version} does not satisfy the policy of alias {alias!r}{when}: " + "; ".join(failures),
            name=name,
            version=version,
            alias=alias,
        )


def direct_move(state: RegistryState, name: str, alias: str, version: str) -> list[Change]:
    """What ``set_alias`` of ``alias`` to ``version`` (canonical) writes; PolicyError if its policy forbids it.

    On a governed alias, a move to the version it points at already writes nothing (a CI job
    may set it again); an alias without a policy records the move as it always has.
    """
    policy = state.policies.get((name, alias))
    if policy is None:
        return [Change("alias_set", name, version, alias)]
    if state.model(name).aliases.get(alias) == version:
        return []
    if policy.approvals:
        raise PolicyError(
            f"alias {alias!r} of {name} is protected: moving it needs {policy.approvals} approval(s); "
            f"request a promotion instead (request_promotion, or: modelreg promote request {name} {alias} {version})",
            name=name,
            version=version,
            alias=alias,
        )
    _refuse_failures(state, name, alias, version, policy, "")
    return [Change("alias_set", name, version, alias)]


def _keep_baseline(policy: AliasPolicy | None, name: str, alias: str) -> None:
    """PolicyError when removing ``alias`` would drop the target ``must_not_regress`` compares the next one with."""
    if policy is not None and policy.must_not_regress:
        raise PolicyError(
            f"alias {alias!r} of {name} cannot be removed while its policy says it must not regress on "
            f"{', '.join(policy.must_not_regress)}: without a current target the next one would not be compared "
            "with anything; move it instead, or have an admin remove the policy first",
            name=name,
            alias=alias,
        )


def check_direct_removal(state: RegistryState, name: str, alias: str) -> None:
    """PolicyError when ``remove_alias`` may not remove ``alias``: its policy asks for approvals or keeps a baseline."""
    policy = state.policies.get((name, alias))
    if policy is not None and policy.approvals:
        raise PolicyError(
            f"alias {alias!r} of {name} is protected: removing it needs {policy.approvals} approval(s); "
            f"request its removal instead (request_promotion with version None, or: "
            f"modelreg promote request {name} {alias} --remove)",
            name=name,
            alias=alias,
        )
    _keep_baseline(policy, name, alias)


def _move(state: RegistryState, request: PromotionRequest, when: str) -> list[Change]:
    """The alias change that carries out ``request`` now, its checks made again on ``state`` (none if it is there)."""
    name, alias, version = request.name, request.alias, request.version
    policy = state.policies.get((name, alias))
    if version is None:
        target = state.check_alias(name, alias)
        _keep_baseline(policy, name, alias)
        return [Change("alias_removed", name, target, alias)]
    record = state.model(name).record(version)
    if record is None or (request.target_registered_at not in (None, record.registered_at)):
        raise PolicyError(
            f"promotion request {request.id} was made for {name} {version} as registered "
            f"{_when(request.target_registered_at)}, and that registration is gone (the version was "
            "unregistered, perhaps registered again since): its approvals do not carry over to another "
            "artifact; reject it and request the promotion again",
            name=name,
            version=version,
            alias=alias,
        )
    if policy is not None:
        _refuse_failures(state, name, alias, version, policy, when)
    if state.model(name).aliases.get(alias) == version:
        return []  # another request moved it there already
    return [Change("alias_set", name, version, alias)]


def _when(at: datetime | None) -> str:
    return "earlier" if at is None else f"at {at.isoformat()}"


def _reason(reason: object) -> str:
    """``reason`` if it is text a request may carry; MetadataError (a 422 over HTTP) otherwise."""
    text = str_arg("reason", reason)
    if len(text) > MAX_REASON_CHARS or any(not c.isprintable() and c not in "\n\t" for c in text):
        raise MetadataError(
            f"a reason is at most {MAX_REASON_CHARS} printable characters (newlines and tabs allowed), "
            f"not {len(text)} characters starting {text[:40]!r}"
        )
    return text


def _pending(state: RegistryState, number: int) -> PromotionRequest:
    request = state.promotions.get(number)
    if request is None:
        raise PromotionNotFoundError(f"there is no promotion request {number}")
    if request.state != "pending":
        by = f" by {request.decided_by}" if request.decided_by else ""
        when = f" at {request.decided_at.isoformat()}" if request.decided_at else ""
        raise PolicyError(
            f"promotion request {number} ({request.name} {request.alias}) is {request.state} already{by}{when}; "
            "only a pending request can be approved or rejected",
            name=request.name,
            version=request.version,
            alias=request.alias,
        )
    return request


def _requested(number: int, name: str, alias: str, version: str | None) -> PromotionRequest:
    """A request being made now (what ``_move`` needs of it when no approvals are asked for)."""
    return PromotionRequest(number, name, alias, version, "pending", None, datetime.now(UTC))


def _number(number: object) -> int:
    return int_arg("promotion id", number, minimum=1)


# -- the writes and reads (a mixin of SnapshotRegistry) ------------------------------------------------------------


class Governed:
    """The policy and promotion methods of ``SnapshotRegistry``; it provides ``_state`` and ``_write``."""

    _state: RegistryState

    def _write(self, plan: Plan, timeout: float | None = None) -> Committed:
        raise NotImplementedError  # SnapshotRegistry's

    def set_alias_policy(self, name: str, alias: str, policy: AliasPolicy) -> None:
        """Govern moves of ``alias`` by ``policy`` from now on (replacing its policy, if any)."""
        validate_name(name)
        validate_alias(alias)
        if not isinstance(policy, AliasPolicy):
            raise TypeError(f"policy must be an AliasPolicy, not {type(policy).__name__}")
        detail = policy.to_dict()

        def plan(state: RegistryState) -> list[Change]:
            if state.policies.get((name, alias)) == policy:
                return []  # the same policy again changes nothing
            return [Change("policy_set", name, None, alias, None, detail)]

        self._write(plan)

    def get_alias_policy(self, name: str, alias: str) -> AliasPolicy | None:
        """The policy governing ``alias``, or None."""
        validate_name(name)
        validate_alias(alias)
        return self._state.policies.get((name, alias))

    def remove_alias_policy(self, name: str, alias: str) -> None:
        """Stop governing ``alias`` (PolicyNotFoundError when it has no policy); pending requests stay pending."""
        validate_name(name)
        validate_alias(alias)

        def plan(state: RegistryState) -> list[Change]:
            if (name, alias) not in state.policies:
                raise PolicyNotFoundError(f"alias {alias!r} of {name} has no policy", name=name, alias=alias)
            return [Change("policy_removed", name, None, alias)]

        self._write(plan)

    def request_promotion(self, name: str, alias: str, version: str | None, *, reason: str = "") -> PromotionRequest:
        """Ask to point ``alias`` at ``version`` (None: to remove it); checked now, carried out at the last approval.

        When the alias's policy needs no approvals (or it has none), the alias moves at once.
        """
        validate_name(name)
        validate_alias(alias)
        if version is not None:
            parse_version(str_arg("version", version))
        why = _reason(reason)

        def plan(state: RegistryState) -> list[Change]:
            number = len(state.promotions) + 1  # requests are never deleted, so this is the next id
            policy = state.policies.get((name, alias))
            detail: dict[str, Any] = {"id": number, "reason": why}
            if version is None:
                state.check_alias(name, alias)
                _keep_baseline(policy, name, alias)
                canonical = None
            else:
                canonical = state.require(name, version)
                if state.model(name).aliases.get(alias) == canonical:
                    raise PolicyError(
                        f"alias {alias!r} of {name} points at {canonical} already: there is nothing to promote",
                        name=name,
                        version=canonical,
                        alias=alias,
                    )
                if policy is not None:
                    _refuse_failures(state, name, alias, canonical, policy, "")
                detail["registered_at"] = state.model(name).record(canonical).registered_at.isoformat()  # type: ignore[union-attr]
            if policy is not None and policy.approvals:
                return [Change("promotion_requested", name, canonical, alias, None, detail)]
            at_once = Change("promotion_requested", name, canonical, alias, None, {**detail, "final": True})
            return [at_once, *_move(state, _requested(number, name, alias, canonical), "")]

        return self._promotion(self._write(plan))

    def approve_promotion(self, number: int) -> PromotionRequest:
        """Approve request ``number`` as the current actor; at the last approval the alias moves, in the same write."""
        _number(number)
        actor = current_actor.get()
        if actor is None:
            raise PolicyError(
                "an approval must say who approves, and this call has no actor: approve inside "
                "modelreg.acting_as('NAME'), or over HTTP with a token of your own (a server without tokens "
                "names every caller 'anonymous': one actor)"
            )

        def plan(state: RegistryState) -> list[Change]:
            request = _pending(state, number)
            if actor == request.requested_by:
                raise PolicyError(
                    f"{actor} requested promotion {number} and so cannot approve it; another actor must",
                    name=request.name, version=request.version, alias=request.alias,
                )
            if actor in request.approvals:
                raise PolicyError(
                    f"{actor} has approved promotion {number} already; one actor counts once",
                    name=request.name, version=request.version, alias=request.alias,
                )
            policy = state.policies.get((request.name, request.alias))
            final = len(request.approvals) + 1 >= (policy.approvals if policy is not None else 0)
            approved = Change(
                "promotion_approved", request.name, request.version, request.alias, None, {"id": number, "final": final}
            )
            return [approved, *_move(state, request, " at the final approval")] if final else [approved]

        return self._promotion(self._write(plan))

    def reject_promotion(self, number: int, *, reason: str = "") -> PromotionRequest:
        """Reject pending request ``number`` (its requester may withdraw it so); the alias stays as it is."""
        _number(number)
        why = _reason(reason)

        def plan(state: RegistryState) -> list[Change]:
            request = _pending(state, number)
            detail = {"id": number, "reason": why}
            return [Change("promotion_rejected", request.name, request.version, request.alias, None, detail)]

        return self._promotion(self._write(plan))

    def get_promotion(self, number: int) -> PromotionRequest:
        """Request ``number`` as it stands (PromotionNotFoundError if there is none)."""
        found = self._state.promotions.get(_number(number))
        if found is None:
            raise PromotionNotFoundError(f"there is no promotion request {number}")
        return found

    def list_promotions(self, name: str | None = None, *, state: str | None = None) -> list[PromotionRequest]:
        """Promotion requests by id, of one model and in one state (pending, approved, rejected) when given."""
        if name is not None:
            validate_name(name)
        if state is not None and state not in PROMOTION_STATES:
            raise ValueError(f"state must be one of {', '.join(PROMOTION_STATES)}, not {state!r}")
        requests = self._state.promotions.values()
        return sorted(
            (r for r in requests if (name is None or r.name == name) and (state is None or r.state == state)),
            key=lambda r: r.id,
        )

    def _promotion(self, committed: Committed) -> PromotionRequest:
        """The request a promotion write made or changed, as the snapshot now holds it."""
        detail = committed.changes[0].detail
        assert detail is not None
        return self.get_promotion(int(detail["id"]))
