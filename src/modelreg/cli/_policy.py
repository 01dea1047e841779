"""``modelreg policy set|show|rm``: the rules (metric gates, no regressions, approvals) that govern an alias."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from ..errors import InvalidPolicyError, PolicyNotFoundError
from ..policies import AliasPolicy
from ._context import RegistryGroup, Session, acting, actor_option, json_option, pass_session, print_json
from ._output import print_table
from ._parse import load_object_file

__all__ = ["policy", "policy_rows"]

_FIELDS = "policy fields (require, must_not_regress, approvals)"


@click.group(cls=RegistryGroup)
def policy() -> None:
    """Set, show and remove the policy that governs moves of an alias (docs/governance.md).

    Example:

    \b
        modelreg policy show resnet50 production
    """


def policy_rows(found: AliasPolicy) -> list[tuple[str, str]]:
    """A policy as (rule, value) rows: each requirement, each no-regression metric, then the approvals."""
    rows = [("require", text) for text in found.require]
    rows += [
        ("must not regress", f"{r.text} ({'lower' if r.lower_is_better else 'higher'} is better)")
        for r in found.regressions
    ]
    rows.append(("approvals", f"{found.approvals}" + (" (set_alias moves it directly)" if not found.approvals else "")))
    return rows


def _print_policy(session: Session, name: str, alias: str, found: AliasPolicy) -> None:
    if session.as_json:
        print_json({"name": name, "alias": alias, "policy": found.to_dict()})
    else:
        print_table(("RULE", "VALUE"), policy_rows(found))


def _policy(fields: dict[str, Any]) -> AliasPolicy:
    """The policy the fields give; InvalidPolicyError names the item at fault, before anything is written."""
    try:
        return AliasPolicy.from_dict(fields)
    except InvalidPolicyError as exc:
        at = re.match(r"must_not_regress\[(\d+)\]", str(exc))
        item = str(fields["must_not_regress"][int(at[1])]).strip() if at else ""
        if item and "." not in item.split()[0]:  # the likely slip: a metric's bare name
            raise InvalidPolicyError(f"{exc} (write metrics.{item}, not {item})") from None
        raise


@policy.command("set")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@click.option("--require", "require", multiple=True, metavar="EXPR",
              help="A where expression the new target must satisfy (docs/search.md), e.g. 'metrics.top1 >= 0.75'; "
                   "repeat for more.")
@click.option("--must-not-regress", "regress", multiple=True, metavar="METRIC",
              help="'metrics.KEY' (higher is better) or 'metrics.KEY desc' (lower is better): the new target may "
                   "not be worse than the current one on it; repeat for more.")
@click.option("--approvals", type=int, default=None, metavar="N",
              help="How many people other than the requester must approve a move (0: none, set_alias moves it).")
@click.option("--from-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read the policy from a .json or .yaml file (require, must_not_regress, approvals); "
                   "an option given here replaces that field of the file.")
@actor_option
@json_option
@pass_session
def policy_set(
    session: Session,
    name: str,
    alias_name: str,
    require: tuple[str, ...],
    regress: tuple[str, ...],
    approvals: int | None,
    from_file: Path | None,
    actor: str | None,
) -> None:
    """Govern moves of ALIAS by a policy, replacing the one it has (admin role over HTTP).

    The policy applies to moves from now on; where the alias points now stays.

    Example:

    \b
        modelreg policy set resnet50 production --require 'metrics.top1 >= 0.75' \\
            --require 'metrics.latency_ms <= 15' --must-not-regress metrics.top1 --approvals 2
    """
    fields: dict[str, Any] = load_object_file(from_file, _FIELDS) if from_file is not None else {}
    if require:
        fields["require"] = list(require)
    if regress:
        fields["must_not_regress"] = list(regress)
    if approvals is not None:
        fields["approvals"] = approvals
    if from_file is None and not fields:
        raise click.UsageError(
            "nothing to set: give --require, --must-not-regress, --approvals or --from-file "
            "(--approvals 0 alone sets a policy without rules, which still keeps its version from being unregistered)"
        )
    found = _policy(fields)
    with acting(session, actor):
        session.registry().set_alias_policy(name, alias_name, found)
    if not session.as_json:
        click.echo(f"policy of {name} {alias_name} set:", err=True)
    _print_policy(session, name, alias_name, found)


@policy.command("show")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@json_option
@pass_session
def policy_show(session: Session, name: str, alias_name: str) -> None:
    """Show the policy of ALIAS: its requirements, no-regression metrics and approvals. Exits 3 if it has none.

    Example:

    \b
        modelreg policy show resnet50 production --json
    """
    found = session.registry().get_alias_policy(name, alias_name)
    if found is None:
        raise PolicyNotFoundError(f"alias {alias_name!r} of {name} has no policy (set one: modelreg policy set)")
    _print_policy(session, name, alias_name, found)


@policy.command("rm")
@click.argument("name")
@click.argument("alias_name", metavar="ALIAS")
@actor_option
@json_option
@pass_session
def policy_rm(session: Session, name: str, alias_name: str, actor: str | None) -> None:
    """Stop governing ALIAS (admin role over HTTP); its pending requests stay pending. Exits 3 if it has none.

    Example:

    \b
        modelreg policy rm resnet50 production
    """
    with acting(session, actor):
        session.registry().remove_alias_policy(name, alias_name)
    if session.as_json:
        print_json({"name": name, "alias": alias_name, "removed": True})
    else:
        click.echo(f"removed the policy of {name} {alias_name}")
