"""Dry runs of governed writes: the registry's own checks, run on a scratch copy, so a confirmation can refuse early.

The confirmation step of a promotion (request, approve, reject) or of a governed alias move
runs the registry's real write on a scratch registry holding the few facts that write reads
(the model's aliases, the target and current versions, the alias's policy, the request).
It stores nothing: a refusal is the very ``PolicyError`` the write would raise, word for
word, and a pass says what the write would change (whether an approval is the last one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..._deadline import Deadline
from ..._plans import Committed, Plan, acting_as
from ..._state import ModelState, RegistryState
from ..._transitions import Change
from ...errors import RegistryError
from ...memory import MemoryRegistry
from ...policies import AliasPolicy, PromotionRequest
from ...registry import ModelRegistry
from ...semver import parse_version

__all__ = ["dry_run", "scratch_state"]


class _Planned(Exception):
    """The plan passed: these are the changes the write would have stored."""

    def __init__(self, changes: list[Change]) -> None:
        super().__init__("dry run")
        self.changes = changes


class _Scratch(MemoryRegistry):
    """A registry over a given state whose writes run their plan and then stop, storing nothing."""

    def __init__(self, state: RegistryState) -> None:
        super().__init__(history_limit=0)
        self._state = state

    def _commit(self, plan: Plan, deadline: Deadline) -> Committed:
        raise _Planned(plan(self._state))


def scratch_state(
    registry: ModelRegistry, name: str, alias: str, versions: Iterable[str | None],
    request: PromotionRequest | None = None,
) -> RegistryState:
    """What a write about ``alias`` of ``name`` reads: aliases, ``versions`` and the alias's current target,
    its policy and ``request``, read from ``registry``'s snapshot."""
    aliases = registry.get_aliases(name)
    wanted = {v for v in (*versions, aliases.get(alias)) if v is not None}
    metadata, records = {}, {}
    for version in wanted:
        meta = registry.get_metadata(name, version)  # VersionNotFoundError: as the write would say
        canonical = meta.version or version
        metadata[canonical] = meta
        found = registry.search(f"version = '{canonical}'", name=name, limit=1).items
        if found:
            records[canonical] = found[0]
    ordered = sorted(metadata, key=parse_version)
    parsed = tuple(parse_version(v) for v in ordered)
    model = ModelState(metadata, {p.identity: v for p, v in zip(parsed, ordered, strict=True)}, tuple(ordered),
                       parsed, aliases=aliases, records=records)
    policy = registry.get_alias_policy(name, alias)
    policies: dict[tuple[str, str], AliasPolicy] = {} if policy is None else {(name, alias): policy}
    promotions = {} if request is None else {request.id: request}
    return RegistryState(models={name: model} if ordered or aliases else {}, names=(name,),
                         policies=policies, promotions=promotions)


def dry_run(state: RegistryState, actor: str, write: Callable[[ModelRegistry], Any]) -> list[Change] | None:
    """The changes ``write(registry)`` would make on ``state`` as ``actor``; its RegistryError if it refuses.

    None when the scratch copy could not answer (a write reading more than it holds): the real
    write then decides, as it always does.
    """
    scratch = _Scratch(state)
    try:
        with acting_as(actor):
            write(scratch)
    except _Planned as planned:
        return planned.changes
    except RegistryError:
        raise
    except (LookupError, AttributeError):  # a fact the scratch copy does not hold: no early answer
        return None
    return None
