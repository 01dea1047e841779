"""``modelreg watch``: print registry events as they happen, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from ..events import RegistryEvent
from ..names import validate_name
from ..registry import ModelRegistry
from ._context import Session, json_option, pass_session, print_json
from ._output import event_line

__all__ = ["watch"]

_POLL_SECONDS = 0.5  # how often the wait wakes up; Ctrl-C interrupts it at once anyway


def _print_event(event: RegistryEvent, as_json: bool) -> None:
    if as_json:
        print_json(event.to_dict(), compact=True)  # JSON Lines: one object per line
    else:
        click.echo(event_line(event))


def _backlog(registry: ModelRegistry, name: str | None, since: int) -> list[RegistryEvent]:
    """Events after ``since``, oldest first, from the models' histories."""
    names = [name] if name is not None else registry.get_all_model_names()
    events = [event for n in names for event in registry.history(n) if event.revision > since]
    return sorted(events, key=lambda event: event.revision)


def _raise_interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so ``watch`` closes its subscription and exits 0."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command()
@click.argument("name", required=False)
@click.option(
    "--since",
    type=click.IntRange(min=0),
    metavar="REV",
    help="First print the changes after revision REV (0: all kept history), then follow.",
)
@json_option
@pass_session
def watch(session: Session, name: str | None, since: int | None) -> None:
    """Print changes as they happen, one line each, until Ctrl-C.

    With NAME, only that model's changes; with --json, one JSON object a line.

    Example:

    \b
        modelreg watch resnet50 --since 0
    """
    if name is not None:
        validate_name(name)
    registry = session.registry()
    pending: queue.Queue[RegistryEvent] = queue.Queue()

    def on_event(event: RegistryEvent) -> None:
        if name is None or event.name == name:
            pending.put(event)

    with _sigterm_as_interrupt(), registry.subscribe(on_event):
        try:
            # Subscribed before reading the backlog, so nothing falls between the two;
            # an event seen in both is printed once (revisions only increase).
            last = 0
            for event in _backlog(registry, name, since) if since is not None else []:
                _print_event(event, session.as_json)
                last = event.revision
            what = f"model {name!r}" if name is not None else "all models"
            click.echo(f"watching {what} in {session.display_url}; press Ctrl-C to stop", err=True)
            while True:
                try:
                    event = pending.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
                if event.revision > last:
                    _print_event(event, session.as_json)
                    last = event.revision
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
