"""Alias policies and promotion requests in the UI: the model page's view of them, ``/promotions``, approve and reject.

Approving and rejecting are two-step forms like every other write (``forms``): the first
POST runs the registry's own checks on a scratch copy (``dryrun``) and shows what the
approval does, or the registry's refusal; the second writes as the signed-in token, so the
registry's rules hold whatever the page showed (a requester cannot approve their own request).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from ..._transitions import Change
from ...errors import PromotionNotFoundError
from ...policies import PROMOTION_STATES, AliasPolicy, PromotionRequest
from ...registry import ModelRegistry
from ..call import Reply
from ..problems import HTTPProblem
from . import paths
from .dryrun import dry_run, scratch_state
from .forms import confirm_or_write, form_back
from .grants import write_role
from .page import Page
from .session import Visitor

__all__ = [
    "DECIDED_SHOWN",
    "PolicyView",
    "PromotionRow",
    "approve_form",
    "model_governance",
    "policy_rules",
    "promotions_page",
    "reject_form",
]

DECIDED_SHOWN = 5
"""Decided requests the model page lists (newest first) below the pending ones."""
PROMOTIONS_SHOWN = 200
"""Most requests ``/promotions`` lists (newest first); the CLI's ``promote ls`` lists them all."""
_POLICY_KINDS = ("policy_set", "policy_removed")
_STATES = (*PROMOTION_STATES, "all")


def policy_rules(policy: AliasPolicy) -> list[str]:
    """A policy's rules as short lines: ``requires metrics.top1 >= 0.75``, ``2 approvals``."""
    lines = [f"requires {text}" for text in policy.require]
    lines += [f"must not regress on metrics.{r.metric} ({'lower' if r.lower_is_better else 'higher'} is better)"
              for r in policy.regressions]
    if policy.approvals:
        lines.append(f"{policy.approvals} approval{'' if policy.approvals == 1 else 's'} by others than the requester")
    else:
        lines.append("no approvals: a move that passes goes through at once")
    return lines


@dataclass(frozen=True, slots=True)
class PolicyView:
    """One governed alias as the model page shows it: where it points, and its rules."""

    alias: str
    target: str | None  # None: the alias is not set
    policy: AliasPolicy
    rules: tuple[str, ...]

    @property
    def needs_approvals(self) -> bool:
        """Whether a move is a promotion request (the policy asks for approvals)."""
        return self.policy.approvals > 0


@dataclass(frozen=True, slots=True)
class PromotionRow:
    """One request as a table row: the request, the approvals its policy asks for now, what the viewer may do."""

    request: PromotionRequest
    needed: int  # approvals the current policy asks for (0: none, or no policy any more)
    may_approve: bool
    may_reject: bool

    @property
    def target(self) -> str:
        """The version asked for, or "remove"."""
        return self.request.version if self.request.version is not None else "remove"

    @property
    def count(self) -> str:
        """Approvals given against those needed: ``1/2``."""
        return f"{len(self.request.approvals)}/{self.needed}"


def promotion_rows(
    registry: ModelRegistry, requests: Iterable[PromotionRequest], visitor: Visitor
) -> list[PromotionRow]:
    """Rows for ``requests``, each counted against its alias's policy now; Approve hidden from the requester."""
    policies: dict[tuple[str, str], AliasPolicy | None] = {}
    approve, reject = visitor.may(write_role("approve")), visitor.may(write_role("reject"))
    rows = []
    for request in requests:
        key = (request.name, request.alias)
        if key not in policies:
            policies[key] = registry.get_alias_policy(*key)
        policy = policies[key]
        pending = request.state == "pending"
        mine = visitor.actor == request.requested_by or visitor.actor in request.approvals
        rows.append(PromotionRow(request, policy.approvals if policy is not None else 0,
                                 approve and pending and not mine, reject and pending))
    return rows


async def _policy_aliases(page: Page, name: str) -> list[str]:
    """Every alias of ``name`` that ever had a policy (from its history, once per registry revision)."""
    revision = page.memo.revision()
    hit = page.memo.recall(("policy-aliases", name), revision)
    if isinstance(hit, list):
        return hit
    events = await page.call.run(partial(page.registry.history, name, kinds=_POLICY_KINDS))
    found = sorted({event.alias for event in events if event.alias is not None})
    page.memo.keep(("policy-aliases", name), revision, found)
    return found


async def model_governance(page: Page, name: str, aliases: Mapping[str, str]) -> dict[str, Any]:
    """The model page's governance context: ``policies`` by alias, ``pending`` and recently ``decided`` requests."""
    registry = page.registry
    requests = registry.list_promotions(name)
    candidates = {*aliases, *(r.alias for r in requests), *await _policy_aliases(page, name)}
    policies = {}
    for alias in sorted(candidates):
        policy = registry.get_alias_policy(name, alias)
        if policy is not None:
            policies[alias] = PolicyView(alias, aliases.get(alias), policy, tuple(policy_rules(policy)))
    pending = [r for r in requests if r.state == "pending"]
    decided = sorted((r for r in requests if r.state != "pending"), key=lambda r: r.id, reverse=True)
    return {
        "policies": policies,
        "pending": promotion_rows(registry, pending, page.visitor),
        "decided": promotion_rows(registry, decided[:DECIDED_SHOWN], page.visitor),
        "more_decided": max(0, len(decided) - DECIDED_SHOWN),
    }


def promotions_page(page: Page) -> Reply:
    """GET /promotions[?state=pending|approved|rejected|all]: requests across every model the visitor may see."""
    state = page.arg("state", "pending")
    if state not in _STATES:
        raise HTTPProblem("invalid_parameter", f"state must be one of {', '.join(_STATES)}, not {state[:40]!r}")
    registry = page.registry
    found = registry.list_promotions(state=None if state == "all" else state)
    visible = [r for r in reversed(found) if page.call.visible(r.name)]
    return page.render("promotions.html", nav="promotions", state=state, states=_STATES,
                       rows=promotion_rows(registry, visible[:PROMOTIONS_SHOWN], page.visitor),
                       total=len(visible), shown=PROMOTIONS_SHOWN)


# -- approve and reject ------------------------------------------------------------------------------------------


def _number(text: str) -> int:
    if not (text.isascii() and text.isdigit() and len(text) <= 18 and int(text) >= 1):
        raise HTTPProblem("invalid_parameter", f"a promotion id is a whole number from 1, not {text[:40]!r}")
    return int(text)


def _visible(page: Page, number: int) -> PromotionRequest:
    """Request ``number``, or the 404 of one that does not exist when its model is outside the visitor's scope."""
    try:
        found = page.registry.get_promotion(number)
    except PromotionNotFoundError:
        found = None
    if found is None or not page.call.visible(found.name):
        raise PromotionNotFoundError(f"there is no promotion request {number}")
    return found


def _about(request: PromotionRequest, current: str | None) -> str:
    """``promotion 3: production of resnet50 from 1.3.0 to 1.5.0, requested by ci ("beats 1.4.2")``."""
    change = (f"removal of {request.alias}" if request.version is None
              else f"{request.alias} from {current or '(not set)'} to {request.version}")
    by = f", requested by {request.requested_by}" if request.requested_by else ""
    why = f" ({request.reason!r})" if request.reason else ""
    return f"promotion {request.id} of {request.name}: {change}{by}{why}"


def _moves(changes: Sequence[Change] | None) -> bool:
    """Whether a dry run's changes move the alias (the approval is the last one)."""
    return changes is not None and any(change.kind in ("alias_set", "alias_removed") for change in changes)


async def approve_form(page: Page, number: str) -> Reply:
    """POST /promotions/{id}/approve: approve as the signed-in token; the last approval moves the alias."""
    form = await page.form()
    page.require(write_role("approve"), "approving a promotion")
    wanted = _number(number)
    request = _visible(page, wanted)
    registry = page.registry
    outcome: dict[str, bool] = {}

    def check() -> tuple[list[str], str]:
        current = registry.get_aliases(request.name).get(request.alias)
        state = scratch_state(registry, request.name, request.alias, [request.version], request)
        changes = dry_run(state, page.visitor.actor, lambda scratch: scratch.approve_promotion(wanted))
        policy = state.policies.get((request.name, request.alias))
        needed = policy.approvals if policy is not None else 0
        given = len(request.approvals) + 1
        lines = [f"Approve {_about(request, current)}"]
        if _moves(changes):
            target = f"moves to {request.version}" if request.version else "is removed"
            count = f"{needed} of {needed}" if needed else "its policy asks for none now"
            lines.append(f"This is the last approval needed ({count}): {request.alias} {target} now")
        elif changes is not None:
            lines.append(f"This is approval {given} of {needed}: the request then waits for {needed - given} more")
        return lines, f"Approve promotion {wanted}"

    def done() -> tuple[str, str]:
        return back, ("promotion-done" if outcome.get("moved") else "promotion-approved")

    def write() -> None:
        outcome["moved"] = registry.approve_promotion(wanted).state == "approved"

    back = form_back(page, form, paths.MODEL, request.name)
    return await confirm_or_write(
        page, form, kind="approve", context={"name": request.name, "version": ""},
        check=check, write=write, back=back, done=done)


async def reject_form(page: Page, number: str) -> Reply:
    """POST /promotions/{id}/reject (reason optional): close a pending request; the alias stays."""
    form = await page.form()
    page.require(write_role("reject"), "rejecting a promotion")
    wanted = _number(number)
    request = _visible(page, wanted)
    registry = page.registry
    reason = form.get("reason", "").replace("\r\n", "\n")

    def check() -> tuple[list[str], str]:
        current = registry.get_aliases(request.name).get(request.alias)
        state = scratch_state(registry, request.name, request.alias, [], request)
        dry_run(state, page.visitor.actor, lambda scratch: scratch.reject_promotion(wanted, reason=reason))
        stays = f"stays at {current}" if current else "stays unset"
        return [f"Reject {_about(request, current)}", f"{request.alias} {stays}"], f"Reject promotion {wanted}"

    back = form_back(page, form, paths.MODEL, request.name)
    return await confirm_or_write(
        page, form, kind="reject", context={"name": request.name, "version": ""},
        check=check, write=functools.partial(registry.reject_promotion, wanted, reason=reason), back=back,
        done=lambda: (back, "promotion-rejected"))
