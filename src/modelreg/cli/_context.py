"""What every command shares: the session (registry URL, token, output mode) and error translation."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO, Any, Concatenate, ParamSpec, TypeVar, cast
from urllib.parse import urlsplit

import click

from .._config import redact_url
from .._plans import acting_as
from ..errors import (
    AliasNotFoundError,
    DuplicateVersionError,
    EventsUnavailableError,
    InvalidNameError,
    InvalidPolicyError,
    InvalidVersionError,
    InvalidWebhookError,
    MetadataError,
    PolicyError,
    PolicyNotFoundError,
    PromotionNotFoundError,
    QueryError,
    RegistryError,
    StoreError,
    VersionInUseError,
    VersionNotFoundError,
    WebhookNotFoundError,
    nearest,
)
from ..registry import EventLog, ModelRegistry
from ..urls import default_registry_url, open_registry

__all__ = [
    "ACTOR_ENV",
    "EXIT_AUTH",
    "EXIT_CODES",
    "EXIT_GENERIC",
    "EXIT_POLICY",
    "EXIT_USAGE",
    "CliFailure",
    "RegistryGroup",
    "Session",
    "acting",
    "actor_option",
    "exit_code_for",
    "force_hint",
    "json_option",
    "pass_session",
    "print_json",
]

ACTOR_ENV = "MODELREG_ACTOR"

EXIT_GENERIC = 1
EXIT_USAGE = 2  # click's own code for usage errors; bad option values share it
EXIT_AUTH = 7
EXIT_POLICY = 8  # an alias policy refused the change: a script can tell "needs approval" from a failure
# A server refusing the token arrives as a plain RegistryError carrying the HTTP layer's code.
_AUTH_CODES = frozenset({"unauthorized", "forbidden"})

#: Exit code per error class; a class not listed takes its nearest listed base's code.
EXIT_CODES: dict[type[RegistryError], int] = {
    RegistryError: EXIT_GENERIC,
    VersionNotFoundError: 3,
    AliasNotFoundError: 3,
    PolicyNotFoundError: 3,
    PromotionNotFoundError: 3,
    WebhookNotFoundError: 3,
    DuplicateVersionError: 4,
    VersionInUseError: 4,
    EventsUnavailableError: 3,
    InvalidVersionError: 5,
    InvalidNameError: 5,
    MetadataError: 5,
    QueryError: 5,
    InvalidPolicyError: 5,
    InvalidWebhookError: 5,
    PolicyError: EXIT_POLICY,
    StoreError: 6,
}

# Which extra brings the backend a URL scheme needs, for the hint when it is missing.
_EXTRAS = {"http": "client", "https": "client", "postgresql": "postgres", "postgres": "postgres"}


def exit_code_for(exc: RegistryError) -> int:
    """The exit code for an error: 7 for a refused token, else its nearest class in ``EXIT_CODES``."""
    if exc.code in _AUTH_CODES:
        return EXIT_AUTH
    return nearest(EXIT_CODES, exc, EXIT_GENERIC)


def force_hint(exc: VersionInUseError) -> CliFailure:
    """A refusal while aliases exist, naming the ``--force`` option instead of the library's keyword."""
    message = str(exc).replace("force=True", "--force")
    return CliFailure(message if message != str(exc) else f"{exc} (use --force)", exit_code_for(exc))


# The library's PolicyError names its method and the command; on the command line only the command.
_LIBRARY_HINT = re.compile(r" \(request_promotion[^,()]*, or: (modelreg [^()]*)\)")


def _message_for(ctx: click.Context, exc: RegistryError) -> str:
    """The error's message; a refused token names the options that give one, not the HTTP header."""
    if isinstance(exc, PolicyError):
        return _LIBRARY_HINT.sub(r": \1", str(exc))
    if exc.code != "unauthorized":
        return str(exc)
    session = ctx.find_object(Session)
    where = f"the server at {session.display_url}" if session is not None else "the server"
    if session is not None and session.token:
        return f"{where} refused the token given with --token or $MODELREG_TOKEN (unknown or revoked)"
    return f"{where} requires a token: pass --token TOKEN or set $MODELREG_TOKEN"


class CliFailure(click.ClickException):
    """A failure shown as one line, ``error: <message>``, with a chosen exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_GENERIC) -> None:
        # One line even when a message (e.g. relayed by a server) holds newlines.
        super().__init__(" ".join(message.splitlines()) or "failed")
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it per class

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``error: <message>`` on stderr."""
        click.echo(f"error: {self.format_message()}", file=file, err=file is None)


class RegistryGroup(click.Group):
    """A click group that turns registry errors and bad values into one-line failures."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; translate expected errors once, here, at the boundary."""
        try:
            return super().invoke(ctx)
        except RegistryError as exc:
            raise CliFailure(_message_for(ctx, exc), exit_code_for(exc)) from exc
        except (TypeError, ValueError) as exc:  # a value the library refused: a usage mistake
            raise CliFailure(str(exc), EXIT_USAGE) from exc
        except BrokenPipeError:
            raise  # stdout closed early (`| head`): click's main exits quietly
        except OSError as exc:  # a file or socket problem: say it, no traceback
            raise CliFailure(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")) from exc


@dataclass
class Session:
    """Global options, and the registry opened (at most once) for this invocation."""

    url: str | None = None
    token: str | None = None
    as_json: bool = False
    ca_bundle: str | None = None
    _registry: ModelRegistry | None = field(default=None, repr=False)

    @property
    def registry_url(self) -> str:
        """``--registry``/``$MODELREG_URL``, else the default SQLite file."""
        return self.url or default_registry_url()

    @property
    def scheme(self) -> str:
        """The registry URL's scheme, lowercased (``sqlite``, ``http``, ...)."""
        return urlsplit(self.registry_url).scheme.lower()

    @property
    def display_url(self) -> str:
        """The registry URL with any password hidden, for messages."""
        return redact_url(self.registry_url)

    def registry(self) -> ModelRegistry:
        """Open the registry the URL names (once); the token goes only to HTTP(S) URLs, the CA bundle to HTTPS."""
        if self._registry is None:
            url, scheme = self.registry_url, self.scheme
            options: dict[str, Any] = {}
            if self.token and scheme in ("http", "https"):
                options["token"] = self.token
            if self.ca_bundle and scheme == "https":
                options["ca_bundle"] = self.ca_bundle
            try:
                self._registry = open_registry(url, **options)
            except ImportError as exc:
                extra = _EXTRAS.get(scheme)
                hint = f"; install it with: pip install 'modelreg[{extra}]'" if extra else ""
                raise CliFailure(f"the {scheme}:// backend is not available ({exc}){hint}") from exc
        return self._registry

    def close(self) -> None:
        """Close the registry if one was opened (stops durable stores' watcher threads)."""
        registry, self._registry = self._registry, None
        if registry is not None:
            registry.close()

    def event_log(self) -> EventLog:
        """The registry as a readable change log: every backend and the client implement ``EventLog``."""
        return cast(EventLog, self.registry())  # declared by registry.py for all of them; nothing to probe


P = ParamSpec("P")
R = TypeVar("R")


def pass_session(func: Callable[Concatenate[Session, P], R]) -> Callable[P, R]:
    """Give a command the ``Session`` as its first argument."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        session = click.get_current_context().find_object(Session)
        if session is None:  # a command invoked on its own, without the root group
            session = click.get_current_context().ensure_object(Session)
        return func(session, *args, **kwargs)

    return wrapper


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(Session).as_json = True


def json_option(func: Callable[P, R]) -> Callable[P, R]:
    """Also accept ``--json`` after the command name (``modelreg models --json``)."""
    return click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Print machine-readable JSON on stdout (same as the global --json).",
    )(func)


def print_json(value: object, *, compact: bool = False) -> None:
    """Print ``value`` as JSON on stdout: indented, or one line for streams."""
    if compact:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    else:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, indent=2)
    click.echo(text)


def _check_actor(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """A usage error naming --actor for a name ``acting_as`` would refuse, before anything is opened."""
    if value is not None:
        try:
            with acting_as(value):
                pass
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
    return value


def actor_option(func: Callable[P, R]) -> Callable[P, R]:
    """``--actor NAME`` (``$MODELREG_ACTOR``): who makes a change on a local registry, as its events record."""
    return click.option(
        "--actor",
        envvar=ACTOR_ENV,
        metavar="NAME",
        callback=_check_actor,
        help=f"Who makes this change, recorded in history; for a local registry (sqlite://, postgresql://, "
        f"memory://) only: a server names the caller by its token [env {ACTOR_ENV}].",
    )(func)


@contextmanager
def acting(session: Session, actor: str | None) -> Iterator[None]:
    """Run the block's writes as ``actor``; refused for an http(s):// registry, whose server names the caller."""
    if actor is not None and session.scheme in ("http", "https"):
        raise click.UsageError(
            f"--actor (or ${ACTOR_ENV}) names who acts only on a local registry; the server at "
            f"{session.display_url} names the caller by its token (--token or $MODELREG_TOKEN), so drop --actor"
        )
    with acting_as(actor):
        yield
