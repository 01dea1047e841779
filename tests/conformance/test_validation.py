"""Bad input raises a clear, specific error and changes nothing, on every backend."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from factories import metadata
from modelreg import (
    AliasNotFoundError,
    InvalidNameError,
    InvalidVersionError,
    ModelRegistry,
    RegistryError,
    VersionNotFoundError,
)

BAD_VERSIONS = ["1.0", "01.0.0", "1.0.0-", "1.0.0-01", "", " 1.0.0", "1.0.0 ", "1.0.0\n", "１.0.0", "V1.0.0",
                "1.0.0.0", "latest", "1" * 300]
BAD_NAMES = ["", "-lead", ".lead", "has space", "slash/name", "ünï", "x" * 129, "tab\t", "new\nline"]


def _snapshot(registry: ModelRegistry) -> tuple[object, ...]:
    names = registry.get_all_model_names()
    return (names, {n: registry.get_versions(n) for n in names}, {n: registry.get_aliases(n) for n in names})


@pytest.fixture
def seeded(registry: ModelRegistry) -> ModelRegistry:
    registry.register_model("m", "1.0.0", metadata())
    registry.set_alias("m", "production", "1.0.0")
    return registry


@pytest.mark.parametrize("bad", BAD_VERSIONS)
def test_invalid_version_is_refused_everywhere(seeded: ModelRegistry, bad: str) -> None:
    before = _snapshot(seeded)
    calls: list[Callable[[], object]] = [
        lambda: seeded.register_model("m", bad, metadata()),
        lambda: seeded.unregister_model("m", bad),
        lambda: seeded.has_version("m", bad),
        lambda: seeded.get_metadata("m", bad),
        lambda: seeded.set_alias("m", "staging", bad),
    ]
    for call in calls:
        with pytest.raises(InvalidVersionError) as caught:
            call()
        assert "expected" in str(caught.value) or "256 characters" in str(caught.value)
    assert _snapshot(seeded) == before


def test_invalid_version_message_quotes_the_input(registry: ModelRegistry) -> None:
    with pytest.raises(InvalidVersionError, match=r"'01\.0\.0'.*MAJOR\.MINOR\.PATCH"):
        registry.register_model("m", "01.0.0", metadata())


@pytest.mark.parametrize("bad", BAD_NAMES)
def test_invalid_model_name_is_refused(seeded: ModelRegistry, bad: str) -> None:
    before = _snapshot(seeded)
    for call in [
        lambda: seeded.register_model(bad, "1.0.0", metadata()),
        lambda: seeded.unregister_model(bad, "1.0.0"),
        lambda: seeded.has_version(bad, "1.0.0"),
        lambda: seeded.get_metadata(bad, "1.0.0"),
        lambda: seeded.get_versions(bad),
        lambda: seeded.set_alias(bad, "production", "1.0.0"),
    ]:
        with pytest.raises(InvalidNameError, match="letters, digits"):
            call()
    assert _snapshot(seeded) == before


@pytest.mark.parametrize("bad", ["latest", "1.0.0", "v1", "^1.2", "-x", "", "has space", "x" * 129, "1abc"])
def test_invalid_alias_name_is_refused(seeded: ModelRegistry, bad: str) -> None:
    before = _snapshot(seeded)
    with pytest.raises(InvalidNameError):
        seeded.set_alias("m", bad, "1.0.0")
    assert _snapshot(seeded) == before


def test_alias_to_missing_version_is_refused(seeded: ModelRegistry) -> None:
    before = _snapshot(seeded)
    with pytest.raises(VersionNotFoundError):
        seeded.set_alias("m", "staging", "9.9.9")
    with pytest.raises(AliasNotFoundError):
        seeded.remove_alias("m", "staging")
    assert _snapshot(seeded) == before


def test_registry_errors_are_builtin_errors_too(registry: ModelRegistry) -> None:
    with pytest.raises(ValueError):
        registry.register_model("m", "nope", metadata())
    with pytest.raises(LookupError):
        registry.get_metadata("m", "1.0.0")
    with pytest.raises(RegistryError):
        registry.get_metadata("m", "1.0.0")


def test_wrong_argument_types_raise_type_error(registry: ModelRegistry) -> None:
    with pytest.raises(TypeError):
        registry.register_model("m", "1.0.0", {"artifact_path": "x"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        registry.has_version("m", 1)  # type: ignore[arg-type]
    assert registry.get_all_model_names() == []
