"""``modelreg tokens``: add, list and revoke the bearer tokens in a server's tokens file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import click

from .._tokenfile import Token, add_token, read_tokens_file, revoke_token
from ._context import CliFailure, RegistryGroup, Session, json_option, pass_session, print_json
from ._output import print_table

__all__ = ["tokens"]

_ROLES = ("read", "write", "admin")
P = ParamSpec("P")
R = TypeVar("R")


def _file_option(func: Callable[P, R]) -> Callable[P, R]:
    """``--file PATH`` (also spelled ``--tokens-file``, as ``serve`` calls it), required."""
    return click.option(
        "--file",
        "--tokens-file",
        "path",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="The tokens file a server reads with --tokens-file.",
    )(func)


class _TokensGroup(RegistryGroup):
    """A missing token name is 'not found' (exit 3), as a missing version is."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a LookupError becomes a one-line failure with exit code 3."""
        try:
            return super().invoke(ctx)
        except LookupError as exc:
            raise CliFailure(str(exc.args[0]) if exc.args else str(exc), exit_code=3) from exc


@click.group(cls=_TokensGroup)
def tokens() -> None:
    """Add, list and revoke the bearer tokens a server accepts.

    They live in the file given to 'modelreg serve --tokens-file'; only their SHA-256
    hashes are stored. A running server notices a changed file within about a second.

    Example:

    \b
        modelreg tokens add ci-pipeline write --file /etc/modelreg/tokens.json
    """


@tokens.command("add")
@click.argument("name")
@click.argument("role", type=click.Choice(_ROLES))
@_file_option
@click.option(
    "--models", "models", multiple=True, metavar="PATTERN",
    help="Scope the token to the models this glob matches (repeat for more); without it, every model.",
)
@json_option
@pass_session
def tokens_add(session: Session, name: str, role: str, path: Path, models: tuple[str, ...]) -> None:
    """Add a new random token NAME with ROLE and print its secret, once.

    Creates the file (mode 0600) if it does not exist; the file keeps only the
    secret's hash, so copy the printed secret now. Refused if NAME is taken.
    With --models the token sees and changes only the models those globs match.

    Example:

    \b
        modelreg tokens add ci-pipeline write --file /etc/modelreg/tokens.json
        modelreg tokens add vision-ci write --models 'vision-*' --models bert --file tokens.json
    """
    secret = add_token(path, name, role, models or None)
    if session.as_json:
        print_json({"name": name, "role": role, "models": list(models) or None, "token": secret})
    else:
        click.echo(secret)
    scope = f", models {', '.join(models)}" if models else ""
    click.echo(
        f"added token {name!r} ({role}{scope}) to {path}; give the secret above to its client "
        "(--token or $MODELREG_TOKEN): it is not stored and cannot be shown again",
        err=True,
    )


@tokens.command("list")
@_file_option
@json_option
@pass_session
def tokens_list(session: Session, path: Path) -> None:
    """List the tokens' names, roles, the models they may see and the start of their hashes.

    Example:

    \b
        modelreg tokens list --file /etc/modelreg/tokens.json
    """
    found = read_tokens_file(path)
    if session.as_json:
        print_json([{"name": t.name, "role": t.role.name.lower(), "models": _models(t), "sha256": t.sha256}
                    for t in found])
    elif found:
        rows = ((t.name, t.role.name.lower(), ",".join(t.models or ("(all)",)), t.sha256[:16] + "…") for t in found)
        print_table(("NAME", "ROLE", "MODELS", "SHA256"), rows)
    else:
        click.echo(f"no tokens in {path}", err=True)


def _models(token: Token) -> list[str] | None:
    return None if token.models is None else list(token.models)


@tokens.command("revoke")
@click.argument("name")
@_file_option
@json_option
@pass_session
def tokens_revoke(session: Session, name: str, path: Path) -> None:
    """Remove the token NAME; a server using the file refuses it within about a second.

    Example:

    \b
        modelreg tokens revoke ci-pipeline --file /etc/modelreg/tokens.json
    """
    revoked = revoke_token(path, name)
    left = len(read_tokens_file(path))
    if session.as_json:
        print_json({"name": revoked.name, "role": revoked.role.name.lower(), "revoked": True, "tokens_left": left})
    else:
        click.echo(f"revoked token {revoked.name!r} ({revoked.role.name.lower()}) in {path}")
    if not left:
        click.echo(
            f"note: {path} now holds no tokens: a server using it refuses every request that needs one, "
            "and a new server will not start with it until a token is added",
            err=True,
        )
