"""``modelreg watch``: print registry events as they happen, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import queue
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType

import click

from ..errors import EventsUnavailableError
from ..events import RegistryEvent, Subscription
from ..names import validate_name
from ..registry import EventLog
from ._context import CliFailure, Session, json_option, pass_session, print_json
from ._output import event_line

__all__ = ["watch"]

_POLL_SECONDS = 0.5  # how often the wait wakes up; Ctrl-C interrupts it at once anyway
_PAGE = 1000  # events read from the log per query


def _print_event(event: RegistryEvent, as_json: bool) -> None:
    if as_json:
        print_json(event.to_dict(), compact=True)  # JSON Lines: one object per line
    else:
        click.echo(event_line(event))


def _replay(events_after: Callable[[int, int], list[RegistryEvent]], since: int) -> Iterator[RegistryEvent]:
    """Every change after ``since`` from the registry's event log, page by page, oldest first.

    A log that no longer reaches back to ``since`` is a usage error carrying its message
    (how far back it reaches), as a bad option value is.
    """
    last = since
    while True:
        try:
            page = events_after(last, _PAGE)
        except EventsUnavailableError as exc:
            raise click.UsageError(str(exc)) from exc
        yield from page
        if len(page) < _PAGE:
            return
        last = page[-1].revision


def _backlog(log: EventLog, since: int) -> Iterator[RegistryEvent]:
    """The logged changes after ``since``; a store that has not reached ``since`` is not the one meant.

    Following it instead would silently skip its changes up to ``since`` when they come.
    """
    log.refresh()  # a durable store may not have applied other processes' last commits yet
    head = log.revision
    if since > head:
        raise CliFailure(
            f"this store (id {log.store_id}) is at revision {head}, so it has no revision {since}: it is not "
            "the store that revision came from, or it was recreated or restored from a backup; "
            f"watch with --since {head} or less, knowing the changes seen before may be gone"
        )
    yield from _replay(log.events_after, since)


def _subscribe(
    session: Session, callback: Callable[[RegistryEvent], None], since: int | None
) -> tuple[Subscription, Iterable[RegistryEvent]]:
    """Subscribe, and return the logged changes after ``since`` to print first.

    The log is read (``EventLog``, which every registry implements) after subscribing,
    so no change falls between the two; one in both is printed once.
    """
    if since is not None and session.scheme == "memory":
        # A memory:// registry opened here starts empty and ends with this command: it has no past.
        raise click.UsageError(
            f"--since needs a registry that keeps an event log (sqlite, postgresql or a modelreg server); "
            f"{session.display_url} keeps none. Watch without --since to follow new changes."
        )
    subscription = session.registry().subscribe(callback)
    return subscription, () if since is None else _backlog(session.event_log(), since)


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
    help="First print every change after revision REV from the event log (0: from the start), then follow.",
)
@json_option
@pass_session
def watch(session: Session, name: str | None, since: int | None) -> None:
    """Print changes as they happen, one line each, until Ctrl-C.

    With NAME, only that model's changes; with --json, one JSON object a line.
    If the server comes back serving another or a rewound store, or without the
    changes since the last one printed, it says so and exits 1.

    Example:

    \b
        modelreg watch resnet50 --since 0
    """
    if name is not None:
        validate_name(name)
    pending: queue.Queue[RegistryEvent] = queue.Queue()

    def on_event(event: RegistryEvent) -> None:
        if name is None or event.name == name:
            pending.put(event)

    subscription, backlog = _subscribe(session, on_event, since)
    with _sigterm_as_interrupt(), subscription:
        try:
            # A change both replayed and delivered live is printed once: revisions only increase.
            last = since or 0
            for event in backlog:
                if name is None or event.name == name:
                    _print_event(event, session.as_json)
                last = event.revision
            what = f"model {name!r}" if name is not None else "all models"
            click.echo(f"watching {what} in {session.display_url}; press Ctrl-C to stop", err=True)
            while True:
                try:
                    event = pending.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    if subscription.error is not None:  # ended rather than skip changes: say why, exit 1
                        raise subscription.error from None
                    continue
                if event.revision > last:
                    _print_event(event, session.as_json)
                    last = event.revision
        except KeyboardInterrupt:
            click.echo("stopped", err=True)
