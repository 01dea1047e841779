"""The ``modelreg`` click group: global options and every command."""

from __future__ import annotations

import click

from .. import __version__
from ..urls import DEFAULT_URL_ENV
from ._annotate import annotate, model
from ._commands import alias, history, models, register, resolve, show, unregister, versions
from ._context import RegistryGroup, Session
from ._import import import_group
from ._policy import policy
from ._promote import promote
from ._prune import prune
from ._search import search
from ._serve import serve
from ._tokens import tokens
from ._watch import watch
from ._webhook import webhook

__all__ = ["cli"]


@click.group(cls=RegistryGroup)
@click.option(
    "--registry",
    "url",
    envvar=DEFAULT_URL_ENV,
    metavar="URL",
    help="sqlite:///path.db, postgresql://..., http(s)://host:port or memory:// "
    f"[env {DEFAULT_URL_ENV}; default: an SQLite file under ~/.local/share/modelreg]",
)
@click.option(
    "--token",
    envvar="MODELREG_TOKEN",
    metavar="TOKEN",
    help="Bearer token for an http(s):// registry [env MODELREG_TOKEN].",
)
@click.option(
    "--ca-bundle",
    envvar="MODELREG_CA_BUNDLE",
    metavar="FILE",
    help="PEM file of the CA(s) that signed an https:// registry's certificate, when not a public CA "
    "[env MODELREG_CA_BUNDLE; $SSL_CERT_FILE is honoured too].",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")
@click.version_option(__version__, prog_name="modelreg")
@click.pass_context
def cli(ctx: click.Context, url: str | None, token: str | None, ca_bundle: str | None, as_json: bool) -> None:
    """Browse and change a model registry from the terminal, or serve one over HTTP.

    Errors print one line, 'error: <message>', and exit with a code per kind
    of error: 1 generic, 2 usage, 3 not found, 4 conflict, 5 invalid input,
    6 store or server unavailable, 7 token missing or refused,
    8 refused by an alias policy.

    Example:

    \b
        modelreg --registry http://registry.internal:8600 resolve resnet50 production
    """
    session = Session(url=url, token=token, as_json=as_json, ca_bundle=ca_bundle)
    ctx.obj = session
    ctx.call_on_close(session.close)


_COMMANDS = (
    models, versions, show, register, unregister, resolve, alias, history, search, annotate, model, prune, policy,
    promote,
)
for _command in (*_COMMANDS, import_group, watch, serve, tokens, webhook):
    cli.add_command(_command)
