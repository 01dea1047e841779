"""``modelreg webhook add|ls|rm|test``: the signed webhooks a server delivers events to (docs/webhooks.md)."""

from __future__ import annotations

import click

from ..client import RegistryClient
from ..events import EVENT_KINDS
from ..webhooks import Delivery, Webhook
from ._context import CliFailure, RegistryGroup, Session, json_option, pass_session, print_json
from ._output import print_table

__all__ = ["webhook"]


def _client(session: Session) -> RegistryClient:
    """The server to manage: webhooks are delivered by a server, so only an http(s):// registry has them."""
    if session.scheme not in ("http", "https"):
        raise CliFailure(f"webhooks are delivered by a server: give an http(s):// registry (--registry), "
                         f"not {session.display_url}", exit_code=2)
    registry = session.registry()
    assert isinstance(registry, RegistryClient)
    return registry


def _state(hook: Webhook) -> str:
    if hook.failing:
        return f"failing ({hook.failures} in a row; {hook.last_error or hook.last_status})"
    return "ok" if hook.failures == 0 else f"retrying ({hook.failures} failed)"


def _attempt(delivery: Delivery) -> str:
    answer = f"HTTP {delivery.status}" if delivery.status is not None else "no answer"
    return f"{answer}{f' ({delivery.error})' if delivery.error else ''} in {delivery.duration_ms:.0f} ms"


@click.group(cls=RegistryGroup)
def webhook() -> None:
    """Register, list, remove and test the webhooks a server POSTs signed events to (admin token).

    Example:

    \b
        modelreg --registry http://registry:8600 webhook add https://ci.example/hook --event registered
    """


@webhook.command("add")
@click.argument("url")
@click.option("--event", "events", multiple=True, metavar="KIND",
              help=f"Deliver only events of this kind (repeat for more; default every kind): {', '.join(EVENT_KINDS)}.")
@click.option("--model", "models", multiple=True, metavar="GLOB",
              help="Deliver only events of models this name or glob matches (repeat for more; default every model).")
@click.option("--secret", metavar="TEXT", envvar="MODELREG_WEBHOOK_SECRET",
              help="The signing secret (16-256 characters) [env MODELREG_WEBHOOK_SECRET]; without it the server "
                   "makes one, printed once here.")
@json_option
@pass_session
def webhook_add(session: Session, url: str, events: tuple[str, ...], models: tuple[str, ...],
                secret: str | None) -> None:
    """Register a webhook; print its id and signing secret (the only time the secret is shown).

    Example:

    \b
        modelreg --registry http://registry:8600 webhook add https://ci.example/hook --model 'bert-*'
    """
    hook, signing = _client(session).add_webhook(url, events=events or None, models=models or None, secret=secret)
    if session.as_json:
        print_json({**hook.to_dict(), "secret": signing})
        return
    click.echo(f"added webhook {hook.id} -> {hook.url}")
    click.echo(f"secret: {signing}")
    click.echo("keep the secret: it is not shown again (docs/webhooks.md shows how a receiver verifies it)")


@webhook.command("ls")
@json_option
@pass_session
def webhook_ls(session: Session) -> None:
    """List the webhooks: id, URL, what they deliver, position and state.

    Example:

    \b
        modelreg --registry http://registry:8600 webhook ls
    """
    hooks = _client(session).list_webhooks()
    if session.as_json:
        print_json({"webhooks": [hook.to_dict() for hook in hooks]})
        return
    print_table(("ID", "URL", "EVENTS", "MODELS", "POSITION", "STATE"), [
        (h.id, h.url, ",".join(h.events or ("*",)), ",".join(h.models or ("*",)), h.position, _state(h))
        for h in hooks
    ])


@webhook.command("rm")
@click.argument("hook_id", metavar="ID")
@pass_session
def webhook_rm(session: Session, hook_id: str) -> None:
    """Remove a webhook (and its delivery log); nothing more is delivered to it.

    Example:

    \b
        modelreg --registry http://registry:8600 webhook rm wh_0123456789abcdef
    """
    _client(session).remove_webhook(hook_id)
    click.echo(f"removed webhook {hook_id}")


@webhook.command("test")
@click.argument("hook_id", metavar="ID")
@json_option
@pass_session
def webhook_test(session: Session, hook_id: str) -> None:
    """Send a signed test delivery (kind ping) now and print how the receiver answered; exit 1 unless 2xx.

    Example:

    \b
        modelreg --registry http://registry:8600 webhook test wh_0123456789abcdef
    """
    delivery = _client(session).test_webhook(hook_id)
    if session.as_json:
        print_json(delivery.to_dict())
    else:
        click.echo(f"{'delivered' if delivery.ok else 'failed'}: {_attempt(delivery)}")
    if not delivery.ok:
        raise click.exceptions.Exit(1)
