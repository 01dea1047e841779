"""How ``resolve`` reads a spec against one model's versions and aliases, now or replayed at a past time."""

from __future__ import annotations

from ._state import ModelState
from ._travel import PastModel
from .errors import InvalidNameError, InvalidVersionError
from .names import validate_alias
from .semver import parse_range

__all__ = ["no_match", "resolve_spec"]


def no_match(name: str, model: ModelState | PastModel, spec: str) -> str:
    """Why ``resolve`` found nothing, naming each reading of ``spec`` it tried."""
    if not model.ordered:
        return f"model {name!r} has no versions, so nothing matches {spec!r}"
    try:
        parse_range(spec)
    except InvalidVersionError:  # a well-formed alias name: _resolve refused any other text
        aliases = ", ".join(sorted(model.aliases)) or "none"
        return (
            f"model {name!r} has no alias {spec!r} (its aliases: {aliases}), "
            f"and {spec!r} is not a version or range"
        )
    return f"model {name!r} has no version matching {spec!r} (its highest is {model.ordered[-1]})"


def resolve_spec(model: ModelState | PastModel, spec: str) -> str | None:
    """The version ``spec`` names in ``model`` (alias, ``latest`` or range), or None."""
    target = model.aliases.get(spec)
    if target is not None:
        return target
    pairs = zip(reversed(model.ordered), reversed(model.parsed), strict=True)
    if spec == "latest":
        for text, version in pairs:
            if not version.is_prerelease:
                return text
        return model.ordered[-1] if model.ordered else None
    try:
        spec_range = parse_range(spec)
    except InvalidVersionError:
        try:
            validate_alias(spec)
        except InvalidNameError:
            raise InvalidVersionError(
                f"invalid spec {spec[:80]!r}: expected a version range such as '^1.2', '~1.2.3', "
                "'>=1.0.0 <2.0.0' or '1.x', 'latest', or an alias name such as 'production'",
                version=spec,
            ) from None
        return None  # a well-formed alias name that this model does not have
    for text, version in pairs:
        if spec_range.contains(version):
            return text
    return None
