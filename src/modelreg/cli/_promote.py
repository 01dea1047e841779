"""``modelreg promote request|approve|reject|ls``: moving a governed alias by request and approvals."""

from __future__ import annotations

from typing import Any

import click

from ..errors import PolicyError
from ..policies import PROMOTION_STATES, PromotionRequest
from ..registry import ModelRegistry
from ._context import (
    ACTOR_ENV,
    EXIT_POLICY,
    CliFailure,
    RegistryGroup,
    Session,
    acting,
    actor_option,
    json_option,
    pass_session,
    print_json,
)

__all__ = ["promote"]


@click.group(cls=RegistryGroup)
def promote() -> None:
    """Request, approve, reject and list promotions: moves of an alias its policy governs.

    Example:

    \b
        modelreg promote request resnet50 production 1.5.0 --reason 'beats 1.4.2 on v2 eval'
    """


def _required(registry: ModelRegistry, name: str, alias: str) -> int:
    """How many approvals the alias's current policy asks for (0 without a policy)."""
    found = registry.get_alias_policy(name, alias)
    return 0 if found is None else found.approvals


def _document(request: PromotionRequest, required: int) -> dict[str, Any]:
    """The JSON shape of a request: ``PromotionRequest.to_dict()`` and the approvals its alias's policy asks for."""
    return {**request.to_dict(), "approvals_required": required}


def _move(request: PromotionRequest) -> str:
    """What the request asks: ``resnet50 production -> 1.5.0``, or ``removal of resnet50 staging``."""
    if request.version is None:
        return f"removal of {request.name} {request.alias}"
    return f"{request.name} {request.alias} -> {request.version}"


def _outcome(registry: ModelRegistry, request: PromotionRequest, required: int, verb: str) -> str:
    """What happened, in one line: still waiting (and for how many), moved, or rejected."""
    what = f"{request.name} {request.alias}"
    if request.state == "approved":
        now = f"now -> {request.version}" if request.version is not None else "removed"
        by = f", approved by {', '.join(request.approvals)}" if request.approvals else ", no approvals needed"
        return f"approved: {what} {now} (promotion {request.id}{by})"
    if request.state == "rejected":
        current = registry.get_aliases(request.name).get(request.alias)
        stays = f"stays at {current}" if current is not None else "stays unset"
        return f"rejected promotion {request.id} ({_move(request)}): {what} {stays}"
    have = len(request.approvals)
    return (f"{verb} promotion {request.id} ({_move(request)}): approved {have}/{required}, "
            f"waiting for {max(required - have, 0)} more")


def _report(session: Session, request: PromotionRequest, verb: str) -> None:
    registry = session.registry()
    required = _required(registry, request.name, request.alias)
    if session.as_json:
        print_json(_document(request, required))
    else:
        click.echo(_outcome(registry, request, required, verb))


@promote.command("request")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("version", required=False)
@click.option("--remove", is_flag=True, help="Request the removal of ALIAS instead of a move (no VERSION).")
@click.option("--reason", default="", metavar="TEXT", help="Why (shown to the approvers and kept in history).")
@actor_option
@json_option
@pass_session
def promote_request(
    session: Session, name: str, alias_name: str, version: str | None, remove: bool, reason: str, actor: str | None
) -> None:
    """Ask to point ALIAS at VERSION (or with --remove, to remove it); checked against its policy now.

    The move happens at the last approval its policy asks for, or at once when it
    asks for none. A target that fails the policy is refused (exit 8), naming each
    failed requirement with the target's value.

    Example:

    \b
        modelreg promote request resnet50 production 1.5.0 --reason 'beats 1.4.2 on v2 eval'
        modelreg promote request resnet50 staging --remove
    """
    if remove == (version is not None):
        raise click.UsageError("give either VERSION (the alias's new target) or --remove, not both or neither")
    with acting(session, actor):
        made = session.registry().request_promotion(name, alias_name, version, reason=reason)
    _report(session, made, "requested")


@promote.command("approve")
@click.argument("number", metavar="ID", type=click.IntRange(min=1))
@actor_option
@json_option
@pass_session
def promote_approve(session: Session, number: int, actor: str | None) -> None:
    """Approve promotion ID; at the last approval its policy asks for, the alias moves.

    The requester cannot approve their own request, and each person counts once.
    On a local registry say who approves with --actor (or $MODELREG_ACTOR).

    Example:

    \b
        modelreg promote approve 7 --actor alice
    """
    with acting(session, actor):
        try:
            done = session.registry().approve_promotion(number)
        except PolicyError as exc:
            if actor is None and session.scheme not in ("http", "https"):  # the one refusal without an actor
                raise CliFailure(
                    f"an approval must say who approves: pass --actor NAME or set ${ACTOR_ENV} "
                    "(the requester cannot approve their own request)", EXIT_POLICY,
                ) from exc
            raise
    _report(session, done, "approved")


@promote.command("reject")
@click.argument("number", metavar="ID", type=click.IntRange(min=1))
@click.option("--reason", default="", metavar="TEXT", help="Why (kept in history).")
@actor_option
@json_option
@pass_session
def promote_reject(session: Session, number: int, reason: str, actor: str | None) -> None:
    """Reject pending promotion ID (its requester may withdraw it so); the alias stays as it is.

    Example:

    \b
        modelreg promote reject 7 --reason 'latency regressed on the v3 eval'
    """
    with acting(session, actor):
        done = session.registry().reject_promotion(number, reason=reason)
    _report(session, done, "rejected")


@promote.command("ls")
@click.argument("name", required=False)
@click.option("--state", type=click.Choice(PROMOTION_STATES), default=None, help="Only requests in this state.")
@json_option
@pass_session
def promote_ls(session: Session, name: str | None, state: str | None) -> None:
    """List promotion requests by id (of NAME, in one state); approvals as given/asked by the current policy.

    Example:

    \b
        modelreg promote ls resnet50 --state pending
    """
    registry = session.registry()
    found = registry.list_promotions(name, state=state)
    required: dict[tuple[str, str], int] = {}
    for request in found:  # one policy read per alias, not per request
        key = (request.name, request.alias)
        if key not in required:
            required[key] = _required(registry, *key)
    if session.as_json:
        print_json([_document(r, required[(r.name, r.alias)]) for r in found])
    elif found:
        _print_requests(found, required)
    else:
        which = " ".join(part for part in (state, "promotion requests") if part)
        click.echo(f"no {which}" + (f" of model {name!r}" if name else "") + f" in {session.display_url}", err=True)


def _print_requests(found: list[PromotionRequest], required: dict[tuple[str, str], int]) -> None:
    """The requests as a rich table on stdout (plain text: no colour unless the terminal asks for it)."""
    try:
        from rich import box
        from rich.console import Console
        from rich.table import Table
    except ImportError as exc:
        raise CliFailure(f"promote ls needs rich, which is not installed ({exc}); install it with: "
                         "pip install 'modelreg[cli]' (or use --json)") from exc
    table = Table(box=box.SIMPLE, safe_box=True, pad_edge=False, show_edge=False)
    for header in ("ID", "MODEL", "ALIAS", "VERSION", "STATE", "REQUESTED BY", "APPROVALS"):
        table.add_column(header, justify="right" if header == "ID" else "left", no_wrap=True)
    table.add_column("REASON", overflow="fold")  # the one column that wraps on a narrow terminal
    for r in found:
        reason = r.reason if r.state != "rejected" or not r.decision_reason else (
            f"{r.reason} (rejected: {r.decision_reason})" if r.reason else f"(rejected: {r.decision_reason})"
        )
        table.add_row(
            str(r.id), r.name, r.alias, r.version if r.version is not None else "(remove)", r.state,
            r.requested_by or "-", f"{len(r.approvals)}/{required[(r.name, r.alias)]}", " ".join(reason.split()),
        )
    console = Console(highlight=False)
    if not console.is_terminal:  # into a file or a pipe: whole lines, not wrapped at 80 columns
        console = Console(highlight=False, width=100_000)
    with console.capture() as captured:
        console.print(table)
    click.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))  # no padding after the last cell
