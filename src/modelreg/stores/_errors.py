"""Errors the stores make: foreign driver errors translated once, at the boundary, and the duplicate version."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..errors import DuplicateVersionError, StoreError

__all__ = ["Describe", "duplicate_version", "translating"]


Describe = Callable[[BaseException, str], str]
"""A store's translation: what a driver error met while ``doing`` something means, in words a user can act on."""


@contextmanager
def translating(
    foreign: type[BaseException], driver: str, where: str, doing: str, describe: Describe
) -> Iterator[None]:
    """Turn a ``foreign`` driver error raised in the block into one StoreError, cause chained.

    Both stores word it alike: "<driver> error <doing> <where>: <what it means>".
    """
    try:
        yield
    except foreign as exc:
        raise StoreError(f"{driver} error {doing} {where}: {describe(exc, doing)}") from exc


def duplicate_version(name: str, version: str | None) -> DuplicateVersionError:
    """The error for a version the database already holds one of the same precedence as."""
    return DuplicateVersionError(
        f"model {name!r} already has a version of the same precedence as {version!r}", name=name, version=version
    )
